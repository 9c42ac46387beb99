import { describe, expect, it } from "vitest";
import type { TcurityErrorCode } from "../src/errors";
import { format, resolveLang, strings, translator } from "../src/i18n";
import { FOLLOW_MESSAGES } from "../src/phase-a";
import { API_ERROR_CODES, FOLLOW_REASONS } from "../src/vocabulary";

function docWithLang(lang: string): Document {
  const doc = document.implementation.createHTMLDocument("t");
  doc.documentElement.lang = lang;
  return doc;
}

describe("resolveLang", () => {
  it("uses the configured language first", () => {
    expect(resolveLang("ko", docWithLang("en"))).toBe("ko");
    expect(resolveLang("en", docWithLang("ko"))).toBe("en");
  });

  it("follows <html lang> on auto", () => {
    expect(resolveLang("auto", docWithLang("ko"))).toBe("ko");
    expect(resolveLang("auto", docWithLang("ko-KR"))).toBe("ko");
    expect(resolveLang(undefined, docWithLang("en-GB"))).toBe("en");
    expect(resolveLang("auto", docWithLang("kok"))).toBe("en");
    expect(resolveLang("auto", docWithLang(""))).toBe("en");
    expect(resolveLang("auto", undefined)).toBe("en");
  });
});

describe("strings", () => {
  it("has every key in both languages, none empty", () => {
    const en = strings("en");
    const ko = strings("ko");
    expect(Object.keys(ko).sort()).toEqual(Object.keys(en).sort());
    expect(Object.keys(ko.errors).sort()).toEqual(Object.keys(en.errors).sort());
    for (const table of [en, ko]) {
      for (const [key, value] of Object.entries(table)) {
        if (key !== "errors") expect(value, key).not.toBe("");
      }
    }
  });

  it("fills placeholders the same way in both languages", () => {
    expect(translator("en")("tileLabel", { r: 2, c: 3 })).toBe("Picture in row 2, column 3");
    expect(translator("ko")("tileLabel", { r: 2, c: 3 })).toBe("2행 3열 그림");
    expect(translator("ko")("placed", { tile: "2행 3열 그림", slot: 1 })).toBe("2행 3열 그림이 1번 칸에 있습니다.");
    expect(translator("ko")("stepOf", { step: 1, steps: 2 })).toBe("2단계 중 1단계");
  });

  it("leaves unknown placeholders alone", () => {
    expect(format("{a} and {b}", { a: 1 })).toBe("1 and {b}");
  });
});

describe("a message for every code the SDK can show", () => {
  const HANGUL = /[\uac00-\ud7a3]/;

  function expectBoth(key: string, en: string | undefined, ko: string | undefined): void {
    expect(en, `en ${key}`).toBeTruthy();
    expect(ko, `ko ${key}`).toBeTruthy();
    expect(ko, `ko ${key}`).toMatch(HANGUL);
  }

  it("every SDK code the server's codes fold onto, in English and Korean", () => {
    const codes = new Set<TcurityErrorCode>(Object.values(API_ERROR_CODES));
    for (const code of codes) expectBoth(code, strings("en").errors[code], strings("ko").errors[code]);
  });

  it("every SDK error code, in English and Korean", () => {
    for (const code of Object.keys(strings("en").errors) as TcurityErrorCode[]) {
      expectBoth(code, strings("en").errors[code], strings("ko").errors[code]);
    }
  });

  it("every reason the follow check gives a tear, in English and Korean", () => {
    for (const reason of FOLLOW_REASONS) {
      const key = FOLLOW_MESSAGES[reason];
      expectBoth(reason, strings("en")[key], strings("ko")[key]);
    }
  });
});
