/** Replaced at build time by the package version (vite `define`; vitest defines it too). */
declare const __SDK_VERSION__: string;
