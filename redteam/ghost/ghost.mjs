#!/usr/bin/env node
/**
 * Red-team attacker "ghost": a puppeteer bot that moves the mouse with ghost-cursor (the most used humanised
 * cursor library on npm) and plays the person who recognises the pictures with the harness's answer oracle.
 * What it measures is whether ghost-cursor's movements get past T-curity's behaviour models.
 *
 * Usage:
 *   node redteam/ghost/ghost.mjs --url <shop url> --oracle <oracle base url> --attempts <N> --seed <S>
 *                                [--timeout-ms 60000] [--spread <px>] [--stealth]
 *
 * --spread sets ghost-cursor's `spreadOverride` for the tear only (how far its Bézier path may bow sideways, in
 * px). Left out, ghost-cursor picks its default (the distance, clamped to 2..200 px), which bows far off a
 * perforation: the widget's own geometry check then refuses the tear before anything is sent.
 *
 * Each attempt runs in a fresh incognito browser context of Debian's Chromium (/usr/bin/chromium, headless):
 * shop → seat → booking form → challenge (Phase A: tear the ticket; Phase B: drag the right tiles into the
 * slots) → booking. It prints one JSON line per attempt to stdout and nothing else there:
 *   {"attempt": i, "phase_a": bool, "phase_a_tries": int, "phase_b": bool|null, "phase_b_tries": int,
 *    "booked": bool, "error": string|null}
 * Each attempt has an overall timeout (--timeout-ms); an error or a timeout ends that attempt only (its line
 * says how far it got, with `error` set). Diagnostics go to stderr. Exit status 0 after all attempts; 2 for bad
 * arguments, 1 when the browser cannot launch. `attempt` counts from 0; `phase_a_tries` counts tears, including
 * those the widget refused itself without sending them.
 *
 * --stealth launches through puppeteer-extra with puppeteer-extra-plugin-stealth (every evasion it ships:
 * navigator.webdriver, the headless user agent and plugins, chrome.runtime, WebGL vendor, …) and, when DISPLAY is
 * set, headed on that (virtual) display rather than headless: the most a CDP bot can hide of its browser.
 *
 * Install with `PUPPETEER_SKIP_DOWNLOAD=1 npm ci` in this folder (no browser is ever downloaded).
 */

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import puppeteer from "puppeteer-core";
import { createCursor } from "ghost-cursor";
import { addExtra } from "puppeteer-extra";
import StealthPlugin from "puppeteer-extra-plugin-stealth";

// Debian's Chromium and its flags, as the Python side launches it (redteam/chromium.json).
const { executable: CHROMIUM, args: CHROMIUM_ARGS } = JSON.parse(
  readFileSync(new URL("../chromium.json", import.meta.url), "utf8"),
);
const MAX_TRIES = 3; // tears or answers per phase, as the widget allows; also clicks on one button
const SENT_GRACE_MS = 3000; // how long an action has to show its effect (a request sent, the page changed)

const log = (message) => process.stderr.write(`[ghost] ${message}\n`);

// --- arguments ---------------------------------------------------------------------------------------------------
function usage(problem) {
  process.stderr.write(
    `ghost: ${problem}\nusage: node redteam/ghost/ghost.mjs --url <shop url> --oracle <oracle base url> ` +
      "--attempts <N> --seed <S> [--timeout-ms 60000] [--spread <px>]\n",
  );
  process.exit(2);
}

function readArgs() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: "string" },
        oracle: { type: "string" },
        attempts: { type: "string" },
        seed: { type: "string" },
        "timeout-ms": { type: "string", default: "60000" },
        spread: { type: "string" },
        stealth: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    usage(error.message);
  }
  const integer = (name, min) => {
    const text = values[name];
    if (text === undefined) usage(`--${name} is required`);
    if (!/^-?\d+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
      usage(`--${name} must be an integer >= ${min}`);
    }
    return Number(text);
  };
  const baseUrl = (name) => {
    if (values[name] === undefined) usage(`--${name} is required`);
    try {
      return new URL(values[name]).href.replace(/\/+$/, "");
    } catch {
      return usage(`--${name} is not a URL`);
    }
  };
  const spread = values.spread === undefined ? undefined : Number(values.spread);
  if (spread !== undefined && !(Number.isFinite(spread) && spread > 0)) usage("--spread must be a number > 0");
  return {
    spread,
    stealth: values.stealth,
    url: baseUrl("url"),
    oracle: baseUrl("oracle"),
    attempts: integer("attempts", 1),
    seed: integer("seed", 0),
    timeoutMs: integer("timeout-ms", 1000),
  };
}

// --- small helpers -----------------------------------------------------------------------------------------------
/** mulberry32: a small seeded PRNG for this script's own choices (pauses); ghost-cursor uses Math.random. */
function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The centre of an element in viewport pixels. */
async function centre(element) {
  const box = await element.boundingBox();
  if (!box) throw new Error("element is not visible");
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/**
 * Records the challenge API calls the page makes (POST .../phase-a, .../phase-a/answer, .../phase-b,
 * .../phase-b/answer), in order, from listeners: no response is missed between two steps.
 */
function watchChallenge(page) {
  const seen = { requests: {}, responses: {} };
  const kindOf = (request) =>
    request.method() === "POST" ? request.url().match(/\/(phase-[ab](?:\/answer)?)(?:\?|$)/)?.[1] : undefined;
  page.on("request", (request) => {
    const kind = kindOf(request);
    if (kind) (seen.requests[kind] ??= []).push(request);
  });
  page.on("response", (response) => {
    const kind = kindOf(response.request());
    if (kind) (seen.responses[kind] ??= []).push(response);
  });
  return seen;
}

/** Polls `test()` (sync or async) until it gives something truthy, which it returns; null on timeout. */
async function until(test, timeoutMs, live) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && live()) {
    const value = await test();
    if (value) return value;
    await sleep(50);
  }
  return null;
}

/** The JSON body of a challenge API response (throws on an HTTP error). */
async function bodyOf(response) {
  const text = await response.text();
  if (!response.ok()) throw new Error(`${response.url()} answered ${response.status()}: ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

/** The right tiles, in slot order, for the problem showing tile `tileId` (the harness's answer oracle). */
async function askOracle(oracle, tileId) {
  const url = `${oracle}/oracle/answers/by-tile/${encodeURIComponent(tileId)}`;
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(`the oracle cannot be reached at ${url}: ${error.cause?.message ?? error.message}`);
  }
  if (!response.ok) throw new Error(`the oracle answered ${response.status} at ${url}`);
  return (await response.json()).answer;
}

// --- one attempt -------------------------------------------------------------------------------------------------
/**
 * Drives one attempt in `page`, updating `state` as it goes (so a failure reports how far it got) and
 * `where.step` (what it is doing, for a timeout's message). `live()` turns false once the attempt has timed out.
 */
async function attempt(page, args, state, random, live, where) {
  const at = (step) => (where.step = step);
  const pause = (min, max) => sleep(min + (max - min) * random());
  const cursor = createCursor(page);
  const seen = watchChallenge(page);
  const count = (kind, what = "responses") => seen[what][kind]?.length ?? 0;
  /** The `index`-th response (0-based) of a kind, once it has come. */
  const nth = async (kind, index) => {
    const response = await until(() => seen.responses[kind]?.[index], args.timeoutMs, live);
    if (!response) throw new Error(`no ${kind} response came`);
    return response;
  };
  const shown = (selector) => () => page.$(selector);
  /**
   * Clicks `selector`'s element with ghost-cursor until `happened()` (it picks a random point in the element's
   * box, which can miss a button the dialog clips): at most MAX_TRIES clicks.
   */
  const clickUntil = async (selector, happened) => {
    const element = await page.waitForSelector(selector);
    for (let click = 1; click <= MAX_TRIES; click++) {
      await cursor.click(element);
      if (await until(happened, SENT_GRACE_MS, live)) return;
      log(`attempt ${state.attempt}: click ${click} on ${selector} had no effect`);
    }
    throw new Error(`clicking ${selector} had no effect`);
  };

  // 1. Shop → queue → first free seat → booking form. Every click is ghost-cursor's, so the pointer is always
  // where ghost-cursor believes it is.
  at("shop");
  await page.goto(`${args.url}/?lang=en`, { waitUntil: "load" });
  await clickUntil("#get-tickets", shown("#step-queue:not([hidden]), #step-seats:not([hidden])"));
  await page.waitForSelector("#step-seats:not([hidden])");
  await clickUntil("#seat-map button:not([disabled])", shown("#to-booking:not([disabled])"));
  await clickUntil("#to-booking", shown("#step-book:not([hidden])"));
  await page.locator("#name").fill("Kim Minji");
  await page.locator("#email").fill("minji@example.com");

  // 2. The widget (open shadow root): its check button opens the dialog, which asks for a Phase A task.
  at("opening the challenge");
  await clickUntil("pierce/.check", () => count("phase-a", "requests") > 0);

  // 3. Phase A: drag the handle to the end mark of the perforation, at most MAX_TRIES tears.
  let outcome = null;
  let tasks = 0; // Phase A tasks answered so far
  while (state.phase_a_tries < MAX_TRIES) {
    // A new task after a `retry`; the same task again after a tear the widget itself refused (never sent).
    at("waiting for a Phase A task");
    await bodyOf(await nth("phase-a", tasks));
    const handle = await centre(await page.waitForSelector('pierce/svg[data-phase="a"] [data-role="handle"]'));
    const end = await centre(await page.waitForSelector('pierce/svg[data-phase="a"] .end-mark'));

    at("tearing");
    const sentBefore = count("phase-a/answer", "requests");
    state.phase_a_tries += 1;
    await cursor.moveTo(handle);
    await pause(120, 400);
    // ghost-cursor's own press and release, at the cursor's position: page.mouse.down() would press where
    // puppeteer last left its own mouse (it does not see ghost-cursor's moves), not on the handle.
    await cursor.mouseDown();
    await cursor.moveTo(end, args.spread === undefined ? {} : { spreadOverride: args.spread });
    await pause(40, 160);
    await cursor.mouseUp();

    if (!(await until(() => count("phase-a/answer", "requests") > sentBefore, SENT_GRACE_MS, live))) {
      const said = await page.$eval("pierce/.status", (node) => node.textContent).catch(() => "");
      log(`attempt ${state.attempt}: tear ${state.phase_a_tries} refused by the widget itself, not sent: ${said}`);
      await pause(300, 800);
      continue;
    }
    at("waiting for the Phase A answer");
    outcome = (await bodyOf(await nth("phase-a/answer", tasks))).outcome;
    tasks += 1;
    log(`attempt ${state.attempt}: Phase A tear ${state.phase_a_tries}: ${outcome}`);
    if (outcome !== "retry") break;
  }
  state.phase_a = outcome === "next_phase" || outcome === "passed";
  if (!state.phase_a) return;

  // 4. Phase B: the oracle names the right tile for each slot; drag each into its slot, then confirm.
  if (outcome === "next_phase") {
    state.phase_b = false;
    while (state.phase_b_tries < MAX_TRIES) {
      at("waiting for a Phase B problem");
      await bodyOf(await nth("phase-b", state.phase_b_tries));
      await page.waitForSelector('pierce/[data-phase="b"] .tile');
      const tileIds = await page.$$eval("pierce/.tile[data-tile-id]", (tiles) =>
        tiles.map((tile) => tile.getAttribute("data-tile-id")),
      );
      const answer = await askOracle(args.oracle, tileIds[0]);

      at("dragging tiles");
      for (const [k, tileId] of answer.entries()) {
        const tile = await centre(await page.waitForSelector(`pierce/.tile[data-tile-id="${tileId}"]`));
        const slot = await centre(await page.waitForSelector(`pierce/.slot[data-slot="${k}"]`));
        await cursor.moveTo(tile);
        await pause(100, 350);
        await cursor.mouseDown();
        await cursor.moveTo(slot);
        await pause(60, 200);
        await cursor.mouseUp();
        await pause(250, 700);
      }

      // The confirm button is enabled once every slot is filled: a drop that missed its slot leaves it disabled.
      at("confirming");
      const confirm = 'pierce/[data-action="confirm"]:not([disabled])';
      if (!(await until(shown(confirm), SENT_GRACE_MS, live))) {
        const filled = await page.$$eval("pierce/.slot", (slots) => slots.map((s) => s.getAttribute("data-filled")));
        throw new Error(`the slots are not all filled after the drags (data-filled: ${filled.join(",")})`);
      }
      await clickUntil(confirm, () => count("phase-b/answer", "requests") > state.phase_b_tries);
      state.phase_b_tries += 1;

      at("waiting for the Phase B answer");
      const answered = await nth("phase-b/answer", state.phase_b_tries - 1);
      outcome = (await bodyOf(answered)).outcome;
      // Were the tiles where the oracle said? (Tells a misplaced drop from a refused movement.)
      const sent = JSON.parse(answered.request().postData() ?? "{}").tile_ids ?? [];
      const right = JSON.stringify(sent) === JSON.stringify(answer) ? "right tiles" : `WRONG tiles ${sent}`;
      log(`attempt ${state.attempt}: Phase B answer ${state.phase_b_tries} (${right}): ${outcome}`);
      if (outcome !== "retry") break;
    }
    state.phase_b = outcome === "passed";
    if (!state.phase_b) return;
  }

  // 5. Verified: book the seat and read the shop's verdict.
  at("booking");
  await page.waitForSelector('pierce/.widget[data-state="verified"]');
  await clickUntil("#book", shown("#book[disabled], #result[data-ok]"));
  const result = await page.waitForSelector("#result[data-ok]");
  state.booked = (await result.evaluate((node) => node.getAttribute("data-ok"))) === "true";
}

/** Runs attempt `i` in a fresh incognito context, with the overall timeout; returns its JSON record. */
async function runAttempt(browser, args, i, random) {
  const state = { attempt: i, phase_a: false, phase_a_tries: 0, phase_b: null, phase_b_tries: 0, booked: false };
  let error = null;
  let live = true;
  let timer;
  const where = { step: "starting" };
  let context;
  try {
    context = await browser.createBrowserContext();
    const page = await context.newPage();
    page.setDefaultTimeout(args.timeoutMs);
    const timeout = new Promise((_, reject) => {
      const expire = () => reject(new Error(`attempt timed out after ${args.timeoutMs} ms (${where.step})`));
      timer = setTimeout(expire, args.timeoutMs);
    });
    const run = attempt(page, args, state, random, () => live, where);
    run.catch(() => {}); // after a timeout, its rejection (page closed) is expected and ignored
    await Promise.race([run, timeout]);
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
    log(`attempt ${i}: error: ${error}`);
  } finally {
    live = false;
    clearTimeout(timer);
    await context?.close().catch(() => {});
  }
  return { ...state, error };
}

// --- main --------------------------------------------------------------------------------------------------------
async function main() {
  const args = readArgs();
  log(`seed ${args.seed} (for pauses; ghost-cursor's paths use Math.random, unseeded)`);
  log(`tear spread: ${args.spread ?? "ghost-cursor's default"}`);
  const random = seededRandom(args.seed);

  const launchArgs = [...CHROMIUM_ARGS];
  if (process.getuid() === 0) launchArgs.push("--no-sandbox");
  let driver = puppeteer;
  if (args.stealth) {
    driver = addExtra(puppeteer);
    driver.use(StealthPlugin());
  }
  const headless = !(args.stealth && process.env.DISPLAY);
  if (!headless) launchArgs.splice(launchArgs.indexOf("--headless"), 1);
  log(`driver: ${args.stealth ? "puppeteer-extra + stealth plugin" : "puppeteer-core"}, headless: ${headless}`);
  let browser;
  try {
    browser = await driver.launch({
      executablePath: CHROMIUM,
      headless,
      args: launchArgs,
      defaultViewport: { width: 1440, height: 900 }, // a common desktop size: the dialog fits
    });
  } catch (error) {
    log(`cannot launch ${CHROMIUM}: ${error.message}`);
    process.exit(1);
  }

  try {
    for (let i = 0; i < args.attempts; i++) {
      const record = await runAttempt(browser, args, i, random);
      process.stdout.write(`${JSON.stringify(record)}\n`);
    }
  } finally {
    await browser.close().catch(() => {});
  }
}

await main();
