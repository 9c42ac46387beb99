/**
 * The `<script src="/sdk.js">` build: `window.tcurity` is the public API, the API base defaults to the
 * origin the script came from, and `.tcurity[data-sitekey]` elements render once the document is parsed.
 */

import * as tcurity from "./index";
import { setDefaultApiBase } from "./config";

declare global {
  interface Window {
    tcurity: typeof tcurity;
  }
}

const script = document.currentScript as HTMLScriptElement | null;
if (script?.src) setDefaultApiBase(new URL("/api", script.src).href);
if (script?.dataset.api) setDefaultApiBase(script.dataset.api);

window.tcurity = tcurity;

if (script?.dataset.render !== "explicit") {
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => tcurity.autoRender(), { once: true });
  } else {
    tcurity.autoRender();
  }
}
