/** The widget's configuration: what a page passes to `render` (or writes as `data-*` attributes). */

import type { TcurityErrorCode } from "./errors";

/** Languages the widget speaks. */
export type Lang = "en" | "ko";

/** Options of one widget. Every field but `sitekey` has a default. */
export interface TcurityConfig {
  /** The site's public key (`data-sitekey`). Required; no default. */
  sitekey: string;
  /**
   * What the pass is for, e.g. `"booking"` (`data-action`); siteverify returns it and can require it.
   * Letters, digits and `_ . / -`, at most 64. Default: `""`.
   */
  action?: string;
  /** `"en"`, `"ko"` or `"auto"` (`data-lang`). Default: `"auto"`, which follows `<html lang>`. */
  lang?: Lang | "auto";
  /**
   * Where the T-curity API answers, without a trailing slash (`data-api`). Default: `"/api"` on the origin
   * `sdk.js` was loaded from (for the ES module: the page's origin).
   */
  apiBase?: string;
  /** Called with the pass token when the challenge is passed (`data-callback`). Default: none. */
  onSuccess?: (token: string) => void;
  /** Called when a challenge fails for good or cannot run (`data-error-callback`). Default: none. */
  onError?: (code: TcurityErrorCode) => void;
  /** Called when the token expired unused; the widget asks again (`data-expired-callback`). Default: none. */
  onExpired?: () => void;
  /** Name of the hidden form field that receives the token. Default: `"tcurity-response"`. */
  responseField?: string;
  /** Time limit of one API request, in milliseconds. Default: `10000`. */
  timeoutMs?: number;
  /** Retries of a request that failed on the network (never of an answer the server refused). Default: `2`. */
  retries?: number;
}

/** A config with every default filled in. */
export type ResolvedConfig = Required<Omit<TcurityConfig, "onSuccess" | "onError" | "onExpired">> &
  Pick<TcurityConfig, "onSuccess" | "onError" | "onExpired">;

export const DEFAULTS = {
  action: "",
  lang: "auto",
  apiBase: "/api",
  responseField: "tcurity-response",
  timeoutMs: 10_000,
  retries: 2,
} as const satisfies Partial<TcurityConfig>;

const SITEKEY = /^[A-Za-z0-9_-]{8,64}$/;
const ACTION = /^[A-Za-z0-9_./-]{0,64}$/;
let defaultApiBase: string = DEFAULTS.apiBase;

/** Sets the `apiBase` default (the script tag build points it at the origin `sdk.js` came from). */
export function setDefaultApiBase(apiBase: string): void {
  defaultApiBase = apiBase.replace(/\/+$/, "");
}

/**
 * Fills in the defaults and checks the values.
 *
 * @throws Error when the sitekey or action is malformed (the caller turns it into `invalid_config`).
 */
export function resolveConfig(config: TcurityConfig): ResolvedConfig {
  const resolved: ResolvedConfig = {
    ...config,
    sitekey: config.sitekey,
    action: config.action ?? DEFAULTS.action,
    lang: config.lang ?? DEFAULTS.lang,
    apiBase: (config.apiBase ?? defaultApiBase).replace(/\/+$/, ""),
    responseField: config.responseField ?? DEFAULTS.responseField,
    timeoutMs: Math.max(1_000, config.timeoutMs ?? DEFAULTS.timeoutMs),
    retries: Math.min(5, Math.max(0, Math.floor(config.retries ?? DEFAULTS.retries))),
  };
  if (typeof resolved.sitekey !== "string" || !SITEKEY.test(resolved.sitekey)) {
    throw new Error("sitekey must be 8-64 letters, digits, '-' or '_'");
  }
  if (!ACTION.test(resolved.action)) {
    throw new Error("action must be at most 64 letters, digits or '_./-'");
  }
  return resolved;
}
