/**
 * The SDK's error contract: every failure the page can see carries one of these codes.
 *
 * Backend error codes (`{"error": {"code"}}`) are folded onto this smaller set by {@link fromApiCode}, so a
 * page reacts to what it can do something about, not to the server's internals. Which backend code becomes which
 * SDK code is the backend's table (`web/backend/app/core/codes.py`), generated into `vocabulary.ts`.
 */

import { API_ERROR_CODES, type ApiErrorCode } from "./vocabulary";

/** Why a challenge could not give a token. */
export type TcurityErrorCode =
  /** The config is unusable: no sitekey, or no container element. */
  | "invalid_config"
  /** The backend could not be reached (after the retries). */
  | "network_error"
  /** A request took longer than `timeoutMs`. */
  | "timeout"
  /** Too many challenges (or Phase B problems) from this browser, network or site; try again later. */
  | "rate_limited"
  /** The sitekey names no site. */
  | "invalid_sitekey"
  /** This page's origin is not one of the site's hostnames. */
  | "origin_not_allowed"
  /** The challenge session ended (expired, or a step was refused); a new one can start. */
  | "session_expired"
  /** Every attempt of the session was used. */
  | "blocked"
  /** The scoring service or the session store is down, or no image problem is ready yet; try again in a few
   *  seconds. */
  | "unavailable"
  /** The service answers but is not set up (a model is missing): retrying in seconds will not help. */
  | "not_ready"
  /** The server refused the answer's format (an SDK or page bug, or tampering). */
  | "invalid_answer"
  /** Any other server failure. */
  | "server_error"
  /** The person closed the dialog. */
  | "cancelled"
  /** The widget was removed while a challenge was running. */
  | "removed";

/** An SDK failure with its {@link TcurityErrorCode}. */
export class TcurityError extends Error {
  readonly code: TcurityErrorCode;
  /** Seconds to wait before trying again, when the server said (`Retry-After`). */
  readonly retryAfterS: number | undefined;

  constructor(code: TcurityErrorCode, message: string, retryAfterS?: number) {
    super(message);
    this.name = "TcurityError";
    this.code = code;
    this.retryAfterS = retryAfterS;
  }
}

/** The SDK code for a backend error code (and its HTTP status, for codes the SDK does not know). */
export function fromApiCode(apiCode: string, status: number): TcurityErrorCode {
  if (Object.prototype.hasOwnProperty.call(API_ERROR_CODES, apiCode)) return API_ERROR_CODES[apiCode as ApiErrorCode];
  if (status === 429) return "rate_limited";
  if (status === 503) return "unavailable";
  return "server_error";
}
