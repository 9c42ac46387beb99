/** The widget's words in English and Korean, and how the language is chosen. */

import type { Lang } from "./config";
import type { TcurityErrorCode } from "./errors";

const EN = {
  widgetButton: "Verify you are human",
  widgetHint: "Protected by T-curity",
  widgetVerifying: "Verifying…",
  widgetVerified: "Verified",
  widgetExpired: "Verification expired. Please verify again.",
  widgetFailed: "Verification did not finish. Please try again.",
  dialogTitle: "Security check",
  close: "Close",
  loading: "Preparing the check…",
  checking: "Checking…",
  stepOf: "Step {step} of {steps}",
  tearTitle: "Tear the ticket",
  tearHelp: "Drag the round handle along the dotted line to the other end, then let go.",
  tearKeyboard: "Keyboard: focus the handle and press the Down or Right arrow until the ticket is torn.",
  handleLabel: "Tear handle",
  startAtHandle: "Start at the round handle.",
  offLine: "Off the dotted line: stay on it.",
  incomplete: "Not torn yet: tear all the way to the end of the line.",
  torn: "Torn.",
  gridTitle: "Pick the pictures",
  gridHelp: "Drag the pictures into the slots, or press a picture and then a slot. Then confirm.",
  find: "Find: {target}",
  tileLabel: "Picture in row {r}, column {c}",
  tileInSlot: "{tile}, in slot {slot}",
  slotLabel: "Slot {n}",
  slotEmpty: "Slot {n}, empty",
  slotFilled: "Slot {n}: {tile}",
  removeLabel: "Remove the picture from slot {n}",
  picked: "{tile} picked up. Now choose a slot.",
  placed: "{tile} is in slot {slot}.",
  emptied: "Slot {slot} is empty again.",
  confirm: "Confirm",
  fillAll: "Fill every slot, then confirm.",
  retry: "That did not pass. Here is a new one: please try again.",
  oneMore: "Passed. One more, please: here are new pictures.",
  attemptsLeft: "Attempts left: {n}",
  passed: "Passed. You can continue.",
  tryAgain: "Try again",
  startOver: "Start over",
  errors: {
    invalid_config: "This page's security check is not set up correctly.",
    network_error: "The security service cannot be reached. Check your connection and try again.",
    timeout: "The security service is taking too long. Please try again.",
    rate_limited: "Too many checks from here. Please wait a minute and try again.",
    invalid_sitekey: "This page's security check is not set up correctly (unknown site key).",
    origin_not_allowed: "This page is not allowed to use this security check.",
    session_expired: "This check expired. Please start over.",
    blocked: "Too many attempts. Please try again later.",
    unavailable: "The security service is busy. Please try again in a few seconds.",
    not_ready: "The security check is not ready on this site yet. Please try again later or contact the site.",
    invalid_answer: "The answer could not be read. Please start over.",
    server_error: "The security service had a problem. Please try again.",
    cancelled: "The check was closed.",
    removed: "The check was removed from the page.",
  } satisfies Record<TcurityErrorCode, string>,
};

export type Strings = typeof EN;

const KO: Strings = {
  widgetButton: "사람인지 확인하기",
  widgetHint: "T-curity 보안 확인",
  widgetVerifying: "확인하는 중…",
  widgetVerified: "확인 완료",
  widgetExpired: "확인이 만료되었습니다. 다시 확인해 주세요.",
  widgetFailed: "확인을 마치지 못했습니다. 다시 시도해 주세요.",
  dialogTitle: "보안 확인",
  close: "닫기",
  loading: "확인을 준비하는 중…",
  checking: "확인하는 중…",
  stepOf: "{steps}단계 중 {step}단계",
  tearTitle: "티켓 뜯기",
  tearHelp: "동그란 손잡이를 점선을 따라 반대쪽 끝까지 끌고 간 다음 손을 떼세요.",
  tearKeyboard: "키보드: 손잡이에 초점을 두고 티켓이 뜯어질 때까지 아래쪽 또는 오른쪽 화살표 키를 누르세요.",
  handleLabel: "뜯기 손잡이",
  startAtHandle: "동그란 손잡이에서 시작하세요.",
  offLine: "점선을 벗어났습니다. 점선을 따라가세요.",
  incomplete: "아직 덜 뜯겼습니다. 선 끝까지 뜯으세요.",
  torn: "뜯었습니다.",
  gridTitle: "그림 고르기",
  gridHelp: "그림을 칸으로 끌어 놓거나, 그림을 누른 다음 칸을 누르세요. 그다음 확인을 누르세요.",
  find: "찾을 것: {target}",
  tileLabel: "{r}행 {c}열 그림",
  tileInSlot: "{tile}, {slot}번 칸에 있음",
  slotLabel: "{n}번 칸",
  slotEmpty: "{n}번 칸, 비어 있음",
  slotFilled: "{n}번 칸: {tile}",
  removeLabel: "{n}번 칸에서 그림 빼기",
  picked: "{tile}을 골랐습니다. 이제 칸을 고르세요.",
  placed: "{tile}이 {slot}번 칸에 있습니다.",
  emptied: "{slot}번 칸이 비었습니다.",
  confirm: "확인",
  fillAll: "모든 칸을 채운 다음 확인을 누르세요.",
  retry: "통과하지 못했습니다. 새 문제로 다시 시도해 주세요.",
  oneMore: "통과했습니다. 새 그림으로 한 번 더 해 주세요.",
  attemptsLeft: "남은 시도: {n}회",
  passed: "통과했습니다. 계속 진행하세요.",
  tryAgain: "다시 시도",
  startOver: "처음부터 다시",
  errors: {
    invalid_config: "이 페이지의 보안 확인 설정이 올바르지 않습니다.",
    network_error: "보안 서비스에 연결할 수 없습니다. 연결을 확인하고 다시 시도하세요.",
    timeout: "보안 서비스의 응답이 너무 늦습니다. 다시 시도하세요.",
    rate_limited: "이곳에서 확인 요청이 너무 많습니다. 1분 정도 기다린 후 다시 시도하세요.",
    invalid_sitekey: "이 페이지의 보안 확인 설정이 올바르지 않습니다(알 수 없는 사이트 키).",
    origin_not_allowed: "이 페이지에서는 이 보안 확인을 사용할 수 없습니다.",
    session_expired: "확인 시간이 만료되었습니다. 처음부터 다시 시작하세요.",
    blocked: "시도 횟수를 초과했습니다. 잠시 후 다시 시도하세요.",
    unavailable: "보안 서비스가 바쁩니다. 몇 초 후 다시 시도하세요.",
    not_ready: "이 사이트의 보안 확인이 아직 준비되지 않았습니다. 나중에 다시 시도하거나 사이트에 문의하세요.",
    invalid_answer: "답을 읽을 수 없습니다. 처음부터 다시 시작하세요.",
    server_error: "보안 서비스에 문제가 생겼습니다. 다시 시도하세요.",
    cancelled: "확인 창을 닫았습니다.",
    removed: "확인 위젯이 페이지에서 제거되었습니다.",
  },
};

const TABLES: Record<Lang, Strings> = { en: EN, ko: KO };

/** Keys of the plain (non-error) strings. */
export type StringKey = Exclude<keyof Strings, "errors">;

/**
 * The language to speak: the config's when it names one, else the document's `<html lang>` (`ko`, `ko-KR`
 * → Korean), else English.
 */
export function resolveLang(configured: Lang | "auto" | undefined, doc: Document | undefined): Lang {
  if (configured === "en" || configured === "ko") return configured;
  const htmlLang = doc?.documentElement.lang.trim().toLowerCase() ?? "";
  return htmlLang === "ko" || htmlLang.startsWith("ko-") ? "ko" : "en";
}

/** The string table of a language. */
export function strings(lang: Lang): Strings {
  return TABLES[lang];
}

/** Fills `{name}` placeholders; unknown placeholders stay as they are. */
export function format(template: string, params: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** A translator bound to one language: `t("placed", { n: 3, slot: 1 })`. */
export type Translate = (key: StringKey, params?: Record<string, string | number>) => string;

export function translator(lang: Lang): Translate {
  const table = strings(lang);
  return (key, params) => format(table[key], params);
}
