/**
 * The widget's and dialog's CSS. It is adopted into their shadow roots as a constructed stylesheet, so it works
 * under a CSP without `'unsafe-inline'` styles and cannot leak into (or be broken by) the host page.
 */

export const CSS = `
:host { all: initial; font-family: system-ui, -apple-system, "Segoe UI", "Malgun Gothic", "Apple SD Gothic Neo", sans-serif; color: #1d2433; }
* { box-sizing: border-box; }
button { font: inherit; }
:focus-visible { outline: 3px solid #1a56db; outline-offset: 2px; }
.widget { display: inline-flex; flex-direction: column; gap: 4px; padding: 10px 12px; border: 1px solid #c3c9d6; border-radius: 8px; background: #fbfcfe; min-width: 260px; }
.check { display: inline-flex; align-items: center; gap: 10px; padding: 6px 8px; border: 0; background: transparent; cursor: pointer; text-align: left; color: inherit; border-radius: 6px; }
.check:hover { background: #eef2fa; }
.box { width: 24px; height: 24px; border: 2px solid #5b6477; border-radius: 5px; display: inline-flex; align-items: center; justify-content: center; font-size: 16px; font-weight: 700; flex: none; }
.widget[data-state="verified"] .box { border-color: #137333; color: #137333; }
.widget[data-state="running"] .box { border-style: dashed; }
.widget[data-state="error"] .box, .widget[data-state="expired"] .box { border-color: #b3261e; color: #b3261e; }
.brand { font-size: 11px; color: #5b6477; }
.wstatus { font-size: 13px; margin: 0; min-height: 1em; }
.backdrop { position: fixed; inset: 0; background: rgba(16, 22, 35, 0.55); display: flex; align-items: center; justify-content: center; padding: 8px; z-index: 2147483646; }
.dialog { background: #fff; border-radius: 12px; box-shadow: 0 12px 40px rgba(0,0,0,0.3); width: min(700px, 100%); max-height: calc(100vh - 16px); overflow: auto; padding: 14px 16px 16px; outline: none; }
.head { display: flex; align-items: center; gap: 10px; margin-bottom: 6px; }
.title { font-size: 18px; margin: 0; flex: 1; }
.step { font-size: 13px; color: #4a5468; }
.close { border: 1px solid #c3c9d6; background: #fff; border-radius: 8px; min-width: 40px; min-height: 40px; font-size: 20px; line-height: 1; cursor: pointer; }
.help { margin: 4px 0 8px; font-size: 14px; line-height: 1.45; }
.kbd { margin: 0 0 8px; font-size: 12px; color: #4a5468; }
.status { min-height: 1.5em; margin: 8px 0 0; font-size: 14px; font-weight: 600; }
.status[data-tone="error"] { color: #b3261e; }
.status[data-tone="error"]::before { content: "\\26A0  "; }
.status[data-tone="ok"] { color: #137333; }
.status[data-tone="ok"]::before { content: "\\2713  "; }
.actions { display: flex; gap: 8px; justify-content: flex-end; margin-top: 10px; flex-wrap: wrap; }
.btn { min-height: 44px; padding: 8px 18px; border-radius: 8px; border: 1px solid #1a56db; background: #fff; color: #1a56db; cursor: pointer; font-weight: 600; }
.btn.primary { background: #1a56db; color: #fff; }
.btn:disabled { opacity: 0.45; cursor: not-allowed; }
.spinner { padding: 40px 0; text-align: center; color: #4a5468; }
.ticket-svg { display: block; width: 100%; height: auto; touch-action: none; user-select: none; -webkit-user-select: none; }
.ticket-body { fill: #fff4d6; stroke: #b48a2c; stroke-width: 2; }
.ticket-text { fill: #5a3e00; font-family: inherit; }
.notch { fill: #fff; }
.band { fill: none; stroke: #1a56db; stroke-opacity: 0.08; stroke-linecap: round; }
.perf { fill: none; stroke: #5a3e00; stroke-width: 3; stroke-dasharray: 1 8; stroke-linecap: round; }
.torn { fill: none; stroke: #1a56db; stroke-width: 5; stroke-linecap: round; }
.ticket-svg[data-off="true"] .torn { stroke: #b3261e; stroke-dasharray: 6 4; }
.end-mark { fill: none; stroke: #5a3e00; stroke-width: 2; }
.handle { cursor: grab; outline: none; }
.handle circle.knob { fill: #1a56db; stroke: #fff; stroke-width: 3; }
.handle .grip { stroke: #fff; stroke-width: 2; stroke-linecap: round; }
.handle .ring { fill: none; stroke: transparent; stroke-width: 3; }
.handle:focus-visible .ring, .handle:focus .ring { stroke: #1a56db; }
.ticket-svg[data-dragging="true"] .handle { cursor: grabbing; }
.prompt { margin: 2px 0 8px; font-size: 15px; }
.target { font-size: 17px; padding: 1px 6px; border-radius: 4px; background: #eef2fa; border: 1px solid #9fb3e6; }
.area { position: relative; width: min(100%, 420px, calc((100vh - 220px) * 0.75)); min-width: 220px; aspect-ratio: 420 / 560; margin: 0 auto; touch-action: none; user-select: none; -webkit-user-select: none; }
.tile, .slot { position: absolute; padding: 0; }
.tile { border: 2px solid #c3c9d6; border-radius: 6px; background: #f3f5f9; cursor: grab; overflow: hidden; }
.tile img, .slot img { width: 100%; height: 100%; object-fit: cover; display: block; pointer-events: none; -webkit-user-drag: none; }
.tile[aria-pressed="true"] { border: 4px double #1a56db; }
.tile[data-placed="true"] { opacity: 0.35; cursor: default; }
.tile .badge { position: absolute; left: 2px; bottom: 2px; background: #1d2433; color: #fff; font-size: 12px; padding: 1px 5px; border-radius: 4px; }
.slot { border: 2px dashed #5b6477; border-radius: 6px; background: #f8f9fc; display: flex; align-items: center; justify-content: center; }
.slot[data-over="true"] { border-style: solid; border-color: #1a56db; background: #e5edff; }
.slot-target { position: absolute; inset: 0; width: 100%; height: 100%; border: 0; background: transparent; cursor: pointer; font-size: 18px; font-weight: 700; color: #5b6477; padding: 0; }
.slot[data-filled="true"] .slot-target { color: transparent; }
.slot .remove { position: absolute; top: -10px; right: -10px; width: 28px; height: 28px; border-radius: 50%; border: 2px solid #fff; background: #1d2433; color: #fff; font-size: 15px; line-height: 1; cursor: pointer; padding: 0; z-index: 2; }
.ghost { position: absolute; left: 0; top: 0; pointer-events: none; opacity: 0.85; border-radius: 6px; box-shadow: 0 6px 18px rgba(0,0,0,0.35); z-index: 3; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (prefers-reduced-motion: reduce) { * { transition: none !important; animation: none !important; } }
`;
