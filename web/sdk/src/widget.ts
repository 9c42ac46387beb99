/**
 * One widget: the box in the page, the dialog, and the challenge flow between them.
 *
 * `session → Phase A (tear) → Phase B (grid, when the site asks it) → pass token`. An answer's outcome drives
 * the flow: `next_phase` moves on (after Phase B: one more Phase B round, which a site's integrity policy can ask
 * for), `retry` asks for a new task of the same phase, `passed` ends with the token,
 * `blocked` ends without one. The token goes into the hidden field `tcurity-response` (in the enclosing form)
 * and to `onSuccess`; it is cleared, and `onExpired` called, a few seconds before the server would refuse it.
 *
 * Every run has a generation number: closing the dialog, `reset()` or `remove()` abandons the run, and whatever
 * its pending requests answer later is ignored.
 */

import { ApiError, ChallengeClient, type AnswerResult, type FetchLike, type Trace } from "./client";
import { resolveConfig, type Lang, type ResolvedConfig, type TcurityConfig } from "./config";
import { TcurityError, type TcurityErrorCode } from "./errors";
import { resolveLang, strings, translator, type Translate } from "./i18n";
import { TearPhase } from "./phase-a";
import { GridPhase } from "./phase-b";
import { Dialog, WidgetView, el } from "./ui";

/** The token is dropped this long before its server-side expiry (a form sent at the last second still works). */
const EXPIRY_MARGIN_MS = 5_000;
const MAX_TOKEN_TTL_MS = 120_000;
/** An upper bound on tasks one run asks for (the server's attempt limits stop it long before). */
const MAX_TASKS_PER_RUN = 12;

class Abandoned extends Error {}

interface Waiter {
  resolve: (token: string) => void;
  reject: (error: TcurityError) => void;
}

export interface WidgetDeps {
  fetch?: FetchLike;
}

export class Widget {
  readonly config: ResolvedConfig;
  private readonly doc: Document;
  private readonly lang: Lang;
  private readonly t: Translate;
  private readonly client: ChallengeClient;
  private readonly view: WidgetView;
  private readonly input: HTMLInputElement;
  private dialog: Dialog | null = null;
  private generation = 0;
  private running = false;
  private token: string | null = null;
  private expiryTimer: ReturnType<typeof setTimeout> | null = null;
  private waiters: Waiter[] = [];
  private lastError: TcurityErrorCode | null = null;
  private cancelWait: ((error: Error) => void) | null = null;

  constructor(container: HTMLElement, config: TcurityConfig, deps: WidgetDeps = {}) {
    this.config = resolveConfig(config);
    this.doc = container.ownerDocument;
    this.lang = resolveLang(this.config.lang, this.doc);
    this.t = translator(this.lang);
    this.client = new ChallengeClient({
      apiBase: this.config.apiBase,
      timeoutMs: this.config.timeoutMs,
      retries: this.config.retries,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    });
    this.view = new WidgetView(this.doc, this.t, () => void this.execute().catch(() => undefined));
    this.input = el(this.doc, "input", { type: "hidden", name: this.config.responseField, value: "" });
    container.append(this.view.host, this.input);
  }

  /** The current token, or `""`. */
  getResponse(): string {
    return this.token ?? "";
  }

  /** Runs the challenge (or returns the valid token at once); settles when the dialog closes. */
  execute(): Promise<string> {
    if (this.token !== null) return Promise.resolve(this.token);
    const promise = new Promise<string>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.running) void this.start();
    return promise;
  }

  /** Forgets the token and any running challenge; the widget is as new. */
  reset(): void {
    this.stop("cancelled");
    this.clearToken();
    this.view.setState("idle");
  }

  /** Takes the widget and its hidden field out of the page. */
  remove(): void {
    this.stop("removed");
    this.clearToken();
    this.view.host.remove();
    this.input.remove();
  }

  // --- the run --------------------------------------------------------------------------------------------
  private async start(): Promise<void> {
    const generation = ++this.generation;
    this.running = true;
    this.lastError = null;
    this.view.setState("running");
    const dialog = new Dialog(this.doc, this.t, () => this.stop(this.lastError ?? "cancelled"));
    this.dialog = dialog;
    dialog.open();
    try {
      const token = await this.flow(generation);
      this.succeed(generation, token);
    } catch (error) {
      if (error instanceof Abandoned || generation !== this.generation) return;
      this.showError(generation, error instanceof TcurityError ? error : new TcurityError("server_error", String(error)));
    }
  }

  private async flow(generation: number): Promise<string> {
    this.loading();
    const session = await this.guard(generation, this.client.createSession(this.config.sitekey, this.config.action));
    const steps = session.phases.length;
    let result = await this.phaseA(generation, session.session_id, steps);
    if (result.outcome === "next_phase") result = await this.phaseB(generation, session.session_id, steps);
    if (result.outcome !== "passed" || !result.token) throw new TcurityError("blocked", "no pass");
    this.scheduleExpiry(result.token_expires_at ?? null);
    return result.token;
  }

  private async phaseA(generation: number, sessionId: string, steps: number): Promise<AnswerResult> {
    for (let task = 0; task < MAX_TASKS_PER_RUN; task++) {
      const issued = await this.guard(generation, this.client.issuePhaseA(sessionId));
      const tear = new TearPhase(this.doc, issued.task, this.t, {
        onTrace: (trace) => this.answered?.(trace),
        announce: (message, tone) => this.dialog?.announce(message, tone),
      });
      this.show(tear.element, 1, steps, "tearTitle", []);
      tear.focus();
      const trace = await this.waitForTrace(generation);
      this.dialog?.announce(this.t("checking"));
      const result = await this.answer(generation, () => this.client.answerPhaseA(sessionId, trace));
      if (result === null) continue;
      if (result.outcome === "next_phase" || result.outcome === "passed") {
        // "Checking…" must not linger over the next step: say the tear passed.
        this.dialog?.announce(this.t("torn"), "ok");
        await tear.playTorn();
        return result;
      }
      this.afterFailure(result);
    }
    throw new TcurityError("blocked", "too many tasks");
  }

  private async phaseB(generation: number, sessionId: string, phases: number): Promise<AnswerResult> {
    const steps = Math.max(phases, 2); // a site without Phase B can still ask it (integrity policy "escalate")
    let again = false;
    for (let task = 0; task < MAX_TASKS_PER_RUN; task++) {
      this.loading();
      const issued = await this.guard(generation, this.client.issuePhaseB(sessionId));
      let confirm: HTMLButtonElement | undefined;
      const grid = new GridPhase(this.doc, issued.task, issued.problem, this.lang, this.t, {
        onChange: (complete) => {
          if (confirm) confirm.disabled = !complete;
        },
        announce: (message, tone) => this.dialog?.announce(message, tone),
      });
      [confirm] = this.show(grid.element, 2, steps, "gridTitle", [
        { name: "confirm", label: this.t("confirm"), primary: true, disabled: true, onClick: () => this.confirmGrid(grid) },
      ]);
      grid.focus();
      if (again) this.dialog?.announce(this.t("oneMore"), "ok");
      const trace = await this.waitForTrace(generation);
      this.dialog?.announce(this.t("checking"));
      const tileIds = grid.answer();
      const result = await this.answer(generation, () => this.client.answerPhaseB(sessionId, tileIds, trace));
      if (result === null) continue;
      if (result.outcome === "passed") return result;
      again = result.outcome === "next_phase";
      if (!again) this.afterFailure(result);
    }
    throw new TcurityError("blocked", "too many tasks");
  }

  private confirmGrid(grid: GridPhase): void {
    if (!grid.complete) {
      this.dialog?.announce(this.t("fillAll"), "error");
      return;
    }
    this.answered?.(grid.trace());
  }

  /** Sends an answer; `null` when the task expired and a new one should be issued. */
  private async answer(generation: number, send: () => Promise<AnswerResult>): Promise<AnswerResult | null> {
    try {
      return await this.guard(generation, send());
    } catch (error) {
      if (error instanceof ApiError && error.apiCode === "task_expired") return null;
      throw error;
    }
  }

  private afterFailure(result: AnswerResult): void {
    if (result.outcome === "blocked") throw new TcurityError("blocked", "no attempt left");
    this.dialog?.announce(`${this.t("retry")} ${this.t("attemptsLeft", { n: result.attempts_left.phase })}`, "error");
  }

  // --- waiting for the person --------------------------------------------------------------------------------
  private answered: ((trace: Trace) => void) | null = null;

  private waitForTrace(generation: number): Promise<Trace> {
    return new Promise<Trace>((resolve, reject) => {
      this.answered = (trace) => {
        this.answered = null;
        this.cancelWait = null;
        if (generation === this.generation) resolve(trace);
      };
      this.cancelWait = reject;
    });
  }

  /** Resolves a request's answer only while its run is current. */
  private async guard<T>(generation: number, request: Promise<T>): Promise<T> {
    const value = await request;
    if (generation !== this.generation) throw new Abandoned();
    return value;
  }

  // --- the dialog's content ------------------------------------------------------------------------------------
  private loading(): void {
    this.dialog?.setContent(el(this.doc, "p", { class: "spinner", id: "tc-help" }, [this.t("loading")]));
    this.dialog?.setActions([]);
  }

  private show(
    node: HTMLElement,
    step: number,
    steps: number,
    title: "tearTitle" | "gridTitle",
    actions: Parameters<Dialog["setActions"]>[0],
  ): HTMLButtonElement[] {
    const label = `${this.t("stepOf", { step, steps: Math.max(step, steps) })}: ${this.t(title)}`;
    this.dialog?.setContent(node, { step, steps, label });
    return this.dialog?.setActions(actions) ?? [];
  }

  private showError(generation: number, error: TcurityError): void {
    if (generation !== this.generation || !this.dialog) return;
    this.lastError = error.code;
    const message = strings(this.lang).errors[error.code];
    // Shown once: the paragraph is the alert (read out by screen readers), so the status line is cleared rather
    // than saying the same words a second time under it.
    this.dialog.setContent(el(this.doc, "p", { class: "help", id: "tc-help", role: "alert", "data-error": error.code }, [message]));
    this.dialog.announce("");
    const retry = error.code !== "invalid_config" && error.code !== "invalid_sitekey" && error.code !== "origin_not_allowed";
    const buttons = this.dialog.setActions([
      ...(retry ? [{ name: "retry", label: this.t(error.code === "blocked" ? "startOver" : "tryAgain"), primary: true, onClick: () => this.restart() }] : []),
      { name: "dismiss", label: this.t("close"), onClick: () => this.stop(error.code) },
    ]);
    buttons[0]?.focus();
    this.view.setState("error", message);
    this.config.onError?.(error.code);
  }

  private restart(): void {
    this.closeDialog();
    this.running = false;
    void this.start();
  }

  // --- endings --------------------------------------------------------------------------------------------------
  private succeed(generation: number, token: string): void {
    if (generation !== this.generation) return;
    this.token = token;
    this.input.value = token;
    this.dialog?.announce(this.t("passed"), "ok");
    this.closeDialog();
    this.running = false;
    this.view.setState("verified", this.t("passed"));
    this.view.button.focus();
    for (const waiter of this.waiters.splice(0)) waiter.resolve(token);
    this.config.onSuccess?.(token);
  }

  /** Abandons the run: the dialog closes and pending `execute()` promises reject with `code`. */
  private stop(code: TcurityErrorCode): void {
    this.generation++;
    const wasRunning = this.running;
    this.running = false;
    this.cancelWait?.(new Abandoned());
    this.cancelWait = null;
    this.answered = null;
    this.closeDialog();
    if (wasRunning && code !== "removed") this.view.setState(code === "cancelled" ? "idle" : "error", code === "cancelled" ? "" : strings(this.lang).errors[code]);
    const error = new TcurityError(code, strings(this.lang).errors[code]);
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  private closeDialog(): void {
    this.dialog?.close();
    this.dialog = null;
  }

  private scheduleExpiry(expiresAt: string | null): void {
    const parsed = expiresAt ? Date.parse(expiresAt) - Date.now() : NaN;
    const ttl = Number.isFinite(parsed) ? Math.min(MAX_TOKEN_TTL_MS, Math.max(10_000, parsed)) : MAX_TOKEN_TTL_MS;
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(() => this.expire(), Math.max(1_000, ttl - EXPIRY_MARGIN_MS));
  }

  private expire(): void {
    this.clearToken();
    this.view.setState("expired", this.t("widgetExpired"));
    this.config.onExpired?.();
  }

  private clearToken(): void {
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    this.token = null;
    this.input.value = "";
  }
}
