/**
 * The challenge API, as the backend's OpenAPI describes it (`api-types.ts` is generated from it; every URL and
 * body shape of the SDK lives in this file).
 *
 * Each request has a time limit (AbortController). A request that fails on the network (no answer at all) is
 * retried a few times with exponential backoff and jitter; an answer from the server, whatever its status, is
 * never retried here: the widget decides what an error means.
 */

import type { components } from "./api-types";
import { TcurityError, fromApiCode } from "./errors";

type Schemas = components["schemas"];
export type Session = Schemas["SessionResponse"];
export type PhaseATask = Schemas["PhaseATaskResponse"];
export type PhaseBProblem = Schemas["PhaseBProblemResponse"];
export type AnswerResult = Schemas["AnswerResult"];
export type Trace = Schemas["Trace"];
export type PerforationTask = Schemas["PerforationTask"];
export type GridTask = Schemas["GridTask"];
export type ProblemView = Schemas["ProblemView"];
export type Rect = Schemas["Rect"];
type ErrorResponse = Schemas["ErrorResponse"];

/** What the client needs from `fetch` (tests pass a fake). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** Base URL of the API, e.g. `https://captcha.example.com/api` (no trailing slash). */
  apiBase: string;
  /** Time limit of one request in milliseconds. */
  timeoutMs: number;
  /** Network-error retries of one request. */
  retries: number;
  /** The fetch to use (default: the global one). */
  fetch?: FetchLike;
  /** Waits between retries (default: `setTimeout`); tests make it instant. */
  sleep?: (ms: number) => Promise<void>;
  /** Random numbers for the backoff jitter (default: `Math.random`). */
  random?: () => number;
}

const BACKOFF_BASE_MS = 300;
const BACKOFF_MAX_MS = 4_000;

/** The wait before retry number `attempt` (0-based): 300 ms, 600 ms, 1.2 s … plus up to 50 % jitter. */
export function backoffMs(attempt: number, random: () => number): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(base * (1 + 0.5 * random()));
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isAbort(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { name?: unknown }).name === "AbortError";
}

/** The challenge API of one widget. */
export class ChallengeClient {
  private readonly options: Required<ClientOptions>;

  constructor(options: ClientOptions) {
    this.options = {
      fetch: (input, init) => fetch(input, init),
      sleep: defaultSleep,
      random: Math.random,
      ...options,
    };
  }

  /** Starts a session for a sitekey (`POST /v1/challenge/sessions`). */
  createSession(sitekey: string, action: string): Promise<Session> {
    return this.request<Session>("/v1/challenge/sessions", { sitekey, action });
  }

  /** Issues a Phase A task (uses one attempt). */
  issuePhaseA(sessionId: string): Promise<PhaseATask> {
    return this.request<PhaseATask>(`${sessionPath(sessionId)}/phase-a`);
  }

  /** Answers the Phase A task with the tear's trace. */
  answerPhaseA(sessionId: string, trace: Trace): Promise<AnswerResult> {
    return this.request<AnswerResult>(`${sessionPath(sessionId)}/phase-a/answer`, { trace });
  }

  /** Issues a Phase B problem (never a pass: with no problem to show, the backend answers 503 `ai_unavailable`). */
  issuePhaseB(sessionId: string): Promise<PhaseBProblem> {
    return this.request<PhaseBProblem>(`${sessionPath(sessionId)}/phase-b`);
  }

  /** Answers the Phase B problem: the tile ids in slot order and the drags' trace. */
  answerPhaseB(sessionId: string, tileIds: string[], trace: Trace): Promise<AnswerResult> {
    return this.request<AnswerResult>(`${sessionPath(sessionId)}/phase-b/answer`, { tile_ids: tileIds, trace });
  }

  /** One POST with a JSON body (or none), retried on network errors only. */
  private async request<T>(path: string, body?: unknown): Promise<T> {
    const { retries, sleep, random } = this.options;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once<T>(path, body);
      } catch (error) {
        const retriable = error instanceof TcurityError && error.code === "network_error";
        if (!retriable || attempt >= retries) throw error;
        await sleep(backoffMs(attempt, random));
      }
    }
  }

  private async once<T>(path: string, body: unknown): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.options.timeoutMs);
    let response: Response;
    try {
      response = await this.options.fetch(this.options.apiBase + path, {
        method: "POST",
        headers: body === undefined ? {} : { "Content-Type": "application/json" },
        body: body === undefined ? null : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
        signal: controller.signal,
      });
    } catch (error) {
      if (isAbort(error)) throw new TcurityError("timeout", `no answer within ${this.options.timeoutMs} ms`);
      throw new TcurityError("network_error", "the request failed on the network");
    } finally {
      clearTimeout(timer);
    }
    return readBody<T>(response);
  }
}

function sessionPath(sessionId: string): string {
  return `/v1/challenge/sessions/${encodeURIComponent(sessionId)}`;
}

async function readBody<T>(response: Response): Promise<T> {
  let payload: unknown;
  try {
    payload = await response.json();
  } catch {
    payload = undefined;
  }
  if (response.ok && payload !== undefined) return payload as T;
  const apiError = (payload as Partial<ErrorResponse> | undefined)?.error;
  const apiCode = typeof apiError?.code === "string" ? apiError.code : "";
  const retryAfter = Number(response.headers.get("Retry-After"));
  throw new ApiError(
    fromApiCode(apiCode, response.status),
    apiCode,
    response.status,
    apiError?.message ?? `HTTP ${response.status}`,
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
  );
}

/** A refusal by the server: the SDK code plus the backend's own code and status (the widget reads both). */
export class ApiError extends TcurityError {
  readonly apiCode: string;
  readonly status: number;

  constructor(code: TcurityError["code"], apiCode: string, status: number, message: string, retryAfterS?: number) {
    super(code, message, retryAfterS);
    this.apiCode = apiCode;
    this.status = status;
  }
}
