/**
 * T-curity's browser SDK: the public API (reCAPTCHA/Turnstile style).
 *
 * ```ts
 * import { render, execute } from "@tcurity/sdk";
 * const id = render("#captcha", { sitekey: "…", action: "booking", onSuccess: (token) => … });
 * const token = await execute(id);
 * ```
 *
 * With `<script src="/sdk.js">`, the same functions are `window.tcurity.*`, and every `.tcurity[data-sitekey]`
 * element is rendered on its own when the page has loaded.
 */

import type { TcurityConfig } from "./config";
import { TcurityError } from "./errors";
import { Widget } from "./widget";

export type { Lang, TcurityConfig } from "./config";
export type { TcurityErrorCode } from "./errors";
export { TcurityError } from "./errors";

/** The SDK's version (the versioned URL `/sdk/<version>/sdk.js` serves this build). */
export const version: string = __SDK_VERSION__;

/** A rendered widget's handle. */
export type WidgetId = string;

const widgets = new Map<WidgetId, Widget>();
let counter = 0;

function containerOf(target: HTMLElement | string): HTMLElement {
  const node = typeof target === "string" ? document.querySelector<HTMLElement>(target) : target;
  if (!node) throw new TcurityError("invalid_config", "no container element");
  return node;
}

function widget(id?: WidgetId): Widget {
  const found = id === undefined ? widgets.values().next().value : widgets.get(id);
  if (!found) throw new TcurityError("invalid_config", `no widget ${id ?? ""}`.trim());
  return found;
}

/**
 * Renders a widget into a container (an element or a CSS selector) and returns its id.
 *
 * @throws TcurityError `invalid_config` when the container is missing or the config is malformed.
 */
export function render(container: HTMLElement | string, config: TcurityConfig): WidgetId {
  const node = containerOf(container);
  const existing = node.getAttribute("data-tcurity-id");
  if (existing && widgets.has(existing)) return existing;
  let made: Widget;
  try {
    made = new Widget(node, config);
  } catch (error) {
    throw new TcurityError("invalid_config", error instanceof Error ? error.message : String(error));
  }
  const id = `tcurity-${++counter}`;
  node.setAttribute("data-tcurity-id", id);
  widgets.set(id, made);
  return id;
}

/** Runs the challenge of a widget (default: the first) and resolves with its pass token. */
export function execute(id?: WidgetId): Promise<string> {
  try {
    return widget(id).execute();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** The current token of a widget (default: the first), or `""`. */
export function getResponse(id?: WidgetId): string {
  return widgets.size === 0 ? "" : widget(id).getResponse();
}

/** Forgets a widget's token and any running challenge. */
export function reset(id?: WidgetId): void {
  widget(id).reset();
}

/** Removes a widget from the page. */
export function remove(id?: WidgetId): void {
  const target = id ?? widgets.keys().next().value;
  if (target === undefined) return;
  widget(target).remove();
  widgets.delete(target);
  document.querySelector(`[data-tcurity-id="${target}"]`)?.removeAttribute("data-tcurity-id");
}

type Callback = (...args: never[]) => void;

function globalFunction<T extends Callback>(name: string | undefined): T | undefined {
  if (!name) return undefined;
  const value = (window as unknown as Record<string, unknown>)[name];
  return typeof value === "function" ? (value as T) : undefined;
}

/**
 * Renders every `.tcurity` element with a `data-sitekey` that is not rendered yet. Options come from
 * `data-action`, `data-lang`, `data-api`, and the names of global functions in `data-callback`,
 * `data-error-callback` and `data-expired-callback`.
 */
export function autoRender(root: ParentNode = document): WidgetId[] {
  const ids: WidgetId[] = [];
  for (const node of root.querySelectorAll<HTMLElement>(".tcurity[data-sitekey]")) {
    if (node.hasAttribute("data-tcurity-id")) continue;
    const data = node.dataset;
    const config: TcurityConfig = {
      sitekey: data.sitekey ?? "",
      ...(data.action !== undefined ? { action: data.action } : {}),
      ...(data.lang === "en" || data.lang === "ko" ? { lang: data.lang } : {}),
      ...(data.api ? { apiBase: data.api } : {}),
    };
    const onSuccess = globalFunction<(token: string) => void>(data.callback);
    const onError = globalFunction<NonNullable<TcurityConfig["onError"]>>(data.errorCallback);
    const onExpired = globalFunction<() => void>(data.expiredCallback);
    if (onSuccess) config.onSuccess = onSuccess;
    if (onError) config.onError = onError;
    if (onExpired) config.onExpired = onExpired;
    try {
      ids.push(render(node, config));
    } catch {
      node.setAttribute("data-tcurity-error", "invalid_config");
    }
  }
  return ids;
}
