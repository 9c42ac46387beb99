// After the build: prints the gzipped sizes, fails past the 30 kB budget, copies the script-tag build to its
// versioned path (dist/<version>/sdk.js) and writes dist/manifest.json with its Subresource Integrity hash.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET_GZIP_BYTES = 30 * 1024;
const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const dist = new URL("../dist/", import.meta.url);

function measure(name) {
  const bytes = readFileSync(new URL(name, dist));
  const gzip = gzipSync(bytes, { level: 9 }).length;
  const integrity = `sha384-${createHash("sha384").update(bytes).digest("base64")}`;
  return { bytes: bytes.length, gzip_bytes: gzip, integrity };
}

const files = { "sdk.js": measure("sdk.js"), "sdk.mjs": measure("sdk.mjs") };
let over = false;
for (const [name, info] of Object.entries(files)) {
  const kb = (info.gzip_bytes / 1024).toFixed(1);
  const ok = info.gzip_bytes <= BUDGET_GZIP_BYTES;
  over ||= !ok;
  process.stdout.write(`[sdk] ${name}: ${info.bytes} B, ${kb} kB gzipped (budget 30 kB: ${ok ? "ok" : "OVER"})\n`);
}
mkdirSync(new URL(`${pkg.version}/`, dist), { recursive: true });
copyFileSync(new URL("sdk.js", dist), new URL(`${pkg.version}/sdk.js`, dist));
const manifest = {
  name: pkg.name,
  version: pkg.version,
  script: `/sdk/${pkg.version}/sdk.js`,
  integrity: files["sdk.js"].integrity,
  files,
};
writeFileSync(new URL("manifest.json", dist), `${JSON.stringify(manifest, null, 2)}\n`);
process.stdout.write(`[sdk] ${manifest.script} integrity ${manifest.integrity}\n`);
if (over) process.exit(1);
