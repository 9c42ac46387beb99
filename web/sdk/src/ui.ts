/**
 * The widget's visible parts: the small "verify" box in the page, and the modal dialog the phases run in.
 *
 * Both live in open shadow roots with a constructed stylesheet (no inline styles, no `<style>` under a strict
 * CSP). The dialog is `role="dialog"` with `aria-modal`, a title and a description, a visible close button,
 * Escape to cancel, a focus trap, and focus returned to where it was when it closes. Messages are announced in
 * a polite live region and carry a symbol, never colour alone.
 */

import { CSS } from "./styles";
import type { Translate } from "./i18n";

type Attrs = Record<string, string | number | boolean | undefined>;

/** Creates an HTML element with attributes and children. */
export function el<K extends keyof HTMLElementTagNameMap>(
  doc: Document,
  tag: K,
  attrs: Attrs = {},
  children: (Node | string)[] = [],
): HTMLElementTagNameMap[K] {
  const node = doc.createElement(tag);
  setAttrs(node, attrs);
  for (const child of children) node.append(child);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** Creates an SVG element with attributes. */
export function svgEl<K extends keyof SVGElementTagNameMap>(
  doc: Document,
  tag: K,
  attrs: Attrs = {},
  children: Node[] = [],
): SVGElementTagNameMap[K] {
  const node = doc.createElementNS(SVG_NS, tag) as SVGElementTagNameMap[K];
  setAttrs(node, attrs);
  for (const child of children) node.append(child);
  return node;
}

function setAttrs(node: Element, attrs: Attrs): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
}

let sheet: CSSStyleSheet | null = null;

/** Adopts the SDK's stylesheet into a shadow root (a `<style>` element where constructed sheets are missing). */
export function applyStyles(root: ShadowRoot): void {
  const doc = root.ownerDocument;
  const view = doc.defaultView;
  if (view && "adoptedStyleSheets" in root && typeof view.CSSStyleSheet === "function") {
    try {
      sheet ??= new view.CSSStyleSheet();
      if (sheet.cssRules.length === 0) sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
      return;
    } catch {
      sheet = null;
    }
  }
  root.append(el(doc, "style", {}, [CSS]));
}

/** Whether the person asked for less motion. */
export function prefersReducedMotion(win: Window | null): boolean {
  return Boolean(win?.matchMedia?.("(prefers-reduced-motion: reduce)").matches);
}

/** The focused element, looking inside open shadow roots (a widget's button lives in one). */
export function deepActiveElement(doc: Document): Element | null {
  let active = doc.activeElement;
  while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement;
  return active;
}

export type Tone = "info" | "error" | "ok";
export interface Action {
  label: string;
  onClick: () => void;
  primary?: boolean;
  disabled?: boolean;
  /** A stable name for tests and styling (`data-action`). */
  name: string;
}

const FOCUSABLE =
  'button:not([disabled]), [href], input:not([disabled]), select:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** The modal dialog the phases run in. */
export class Dialog {
  readonly host: HTMLElement;
  readonly body: HTMLElement;
  private readonly root: ShadowRoot;
  private readonly doc: Document;
  private readonly box: HTMLElement;
  private readonly stepLabel: HTMLElement;
  private readonly status: HTMLElement;
  private readonly actions: HTMLElement;
  private returnFocus: Element | null = null;
  private savedOverflow = "";
  private readonly onKey = (event: KeyboardEvent) => this.handleKey(event);
  private readonly onFocusIn = (event: FocusEvent) => this.keepFocus(event);

  constructor(
    doc: Document,
    t: Translate,
    private readonly onCancel: () => void,
  ) {
    this.doc = doc;
    this.host = el(doc, "div", { "data-tcurity-dialog": "" });
    this.root = this.host.attachShadow({ mode: "open" });
    applyStyles(this.root);
    const title = el(doc, "h2", { class: "title", id: "tc-title" }, [t("dialogTitle")]);
    this.stepLabel = el(doc, "span", { class: "step" });
    const close = el(doc, "button", { class: "close", type: "button", "aria-label": t("close"), "data-action": "close" }, ["×"]);
    close.addEventListener("click", () => this.onCancel());
    this.body = el(doc, "div", { class: "body" });
    this.status = el(doc, "p", { class: "status", id: "tc-status", role: "status", "aria-live": "polite" });
    this.actions = el(doc, "div", { class: "actions" });
    this.box = el(
      doc,
      "div",
      { class: "dialog", role: "dialog", "aria-modal": "true", "aria-labelledby": "tc-title", "aria-describedby": "tc-help tc-status", tabindex: -1 },
      [el(doc, "div", { class: "head" }, [title, this.stepLabel, close]), this.body, this.status, this.actions],
    );
    this.root.append(el(doc, "div", { class: "backdrop" }, [this.box]));
  }

  /** Shows the dialog and moves focus into it. */
  open(): void {
    this.returnFocus = deepActiveElement(this.doc);
    this.doc.body.append(this.host);
    this.savedOverflow = this.doc.body.style.overflow;
    this.doc.body.style.overflow = "hidden";
    this.root.addEventListener("keydown", this.onKey as EventListener);
    this.doc.addEventListener("focusin", this.onFocusIn);
    this.box.focus();
  }

  /** Removes the dialog and gives focus back to where it was. */
  close(): void {
    this.root.removeEventListener("keydown", this.onKey as EventListener);
    this.doc.removeEventListener("focusin", this.onFocusIn);
    this.doc.body.style.overflow = this.savedOverflow;
    this.host.remove();
    const target = this.returnFocus as HTMLElement | null;
    if (target && target.isConnected && typeof target.focus === "function") target.focus();
  }

  get isOpen(): boolean {
    return this.host.isConnected;
  }

  /** Replaces the dialog's content (a phase view, a message). */
  setContent(node: Node, step?: { step: number; steps: number; label: string }): void {
    this.body.replaceChildren(node);
    this.stepLabel.textContent = step ? step.label : "";
  }

  /** Announces a message in the live region. */
  announce(message: string, tone: Tone = "info"): void {
    this.status.textContent = message;
    this.status.setAttribute("data-tone", tone);
  }

  /** Replaces the buttons under the content. */
  setActions(actions: Action[]): HTMLButtonElement[] {
    const buttons = actions.map((action) => {
      const button = el(this.doc, "button", {
        type: "button",
        class: action.primary ? "btn primary" : "btn",
        "data-action": action.name,
        disabled: action.disabled,
      }, [action.label]);
      button.addEventListener("click", () => action.onClick());
      return button;
    });
    this.actions.replaceChildren(...buttons);
    return buttons;
  }

  /** Moves focus to the first focusable element of the content (or the dialog itself). */
  focusFirst(selector?: string): void {
    const preferred = selector ? this.root.querySelector<HTMLElement>(selector) : null;
    const target = preferred ?? this.focusables()[1] ?? this.box;
    target.focus();
  }

  private focusables(): HTMLElement[] {
    return [...this.box.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((node) => !node.hasAttribute("inert"));
  }

  private handleKey(event: KeyboardEvent): void {
    if (event.key === "Escape" && !event.defaultPrevented) {
      event.preventDefault();
      this.onCancel();
      return;
    }
    if (event.key !== "Tab") return;
    const items = this.focusables();
    if (items.length === 0) return;
    const first = items[0] as HTMLElement;
    const last = items[items.length - 1] as HTMLElement;
    const active = this.root.activeElement;
    if (event.shiftKey && (active === first || active === this.box)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && active === last) {
      event.preventDefault();
      first.focus();
    }
  }

  private keepFocus(event: FocusEvent): void {
    if (event.target !== this.host) this.box.focus();
  }
}

export type WidgetState = "idle" | "running" | "verified" | "expired" | "error";

/** The box in the page: a button that starts the check, and its state in words. */
export class WidgetView {
  readonly host: HTMLElement;
  readonly button: HTMLButtonElement;
  private readonly frame: HTMLElement;
  private readonly mark: HTMLElement;
  private readonly label: HTMLElement;
  private readonly status: HTMLElement;

  constructor(
    doc: Document,
    private readonly t: Translate,
    onActivate: () => void,
  ) {
    this.host = el(doc, "div", { "data-tcurity-widget": "" });
    const root = this.host.attachShadow({ mode: "open" });
    applyStyles(root);
    this.mark = el(doc, "span", { class: "box", "aria-hidden": "true" });
    this.label = el(doc, "span", { class: "label" }, [t("widgetButton")]);
    this.button = el(doc, "button", { class: "check", type: "button", "aria-describedby": "tc-wstatus" }, [this.mark, this.label]);
    this.button.addEventListener("click", onActivate);
    this.status = el(doc, "p", { class: "wstatus", id: "tc-wstatus", role: "status", "aria-live": "polite" });
    this.frame = el(doc, "div", { class: "widget", "data-state": "idle" }, [
      this.button,
      this.status,
      el(doc, "span", { class: "brand" }, [t("widgetHint")]),
    ]);
    root.append(this.frame);
  }

  /** Shows a state: a symbol in the box, words in the label and the status line. */
  setState(state: WidgetState, message = ""): void {
    const t = this.t;
    this.frame.setAttribute("data-state", state);
    this.mark.textContent = { idle: "", running: "…", verified: "✓", expired: "!", error: "!" }[state];
    this.label.textContent = state === "verified" ? t("widgetVerified") : state === "running" ? t("widgetVerifying") : t("widgetButton");
    this.button.setAttribute("aria-pressed", state === "verified" ? "true" : "false");
    this.button.toggleAttribute("aria-busy", state === "running");
    this.status.textContent = message;
  }
}
