// The demo shop's page: show → queue → seat map → booking form (protected by T-curity) → what happened.
// Plain script (served as a file: the page runs under a CSP without inline scripts).
"use strict";

(function () {
  var LANG = document.documentElement.lang === "ko" ? "ko" : "en";
  var OTHER = LANG === "ko" ? "en" : "ko";
  var TEXT = {
    en: {
      onSale: "On sale now", getTickets: "Get tickets", queueTitle: "Waiting room",
      queueWait: "You are in the queue. About {s} s left…", queueReady: "It is your turn.",
      seatsTitle: "Choose your seat", stage: "STAGE", legendFree: "free", legendSold: "sold", legendChosen: "your choice",
      continue: "Continue", seatChosen: "Seat {seat} selected ({price} KRW).", bookTitle: "Your booking",
      yourSeat: "Seat:", name: "Name", email: "Email", captchaHint: "Complete the security check, then book.",
      book: "Book now", footer: "A demo shop protected by T-curity. No real tickets are sold.",
      seatLabel: "Seat {seat}", seatSold: "Seat {seat}, sold", price: "Rows {rows}: {price} KRW",
      networkError: "The shop could not be reached. Nothing was booked; please try again."
    },
    ko: {
      onSale: "예매 중", getTickets: "티켓 예매하기", queueTitle: "대기실",
      queueWait: "대기열에 있습니다. 약 {s}초 남았습니다…", queueReady: "차례가 되었습니다.",
      seatsTitle: "좌석 선택", stage: "무대", legendFree: "선택 가능", legendSold: "판매 완료", legendChosen: "선택한 좌석",
      continue: "다음", seatChosen: "{seat} 좌석을 선택했습니다({price}원).", bookTitle: "예매 정보",
      yourSeat: "좌석:", name: "이름", email: "이메일", captchaHint: "보안 확인을 마친 다음 예매하세요.",
      book: "예매하기", footer: "T-curity로 보호되는 데모 쇼핑몰입니다. 실제 티켓은 판매되지 않습니다.",
      seatLabel: "{seat} 좌석", seatSold: "{seat} 좌석, 판매 완료", price: "{rows}열: {price}원",
      networkError: "쇼핑몰에 연결할 수 없습니다. 예매되지 않았으니 다시 시도해 주세요."
    }
  };
  var state = { queueTicket: null, seat: null, seats: [] };

  function t(key, params) {
    var text = TEXT[LANG][key] || key;
    Object.keys(params || {}).forEach(function (name) { text = text.split("{" + name + "}").join(String(params[name])); });
    return text;
  }
  function $(id) { return document.getElementById(id); }
  function show(id) { $(id).hidden = false; }
  function hide(id) { $(id).hidden = true; }

  function api(method, path, body) {
    var init = { method: method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch("/shop/api" + path, init).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    });
  }

  function say(ok, message) {
    var box = $("result");
    box.setAttribute("data-ok", String(ok));
    $("result-primary").textContent = message[LANG];
    $("result-primary").lang = LANG;
    $("result-secondary").textContent = message[OTHER];
    $("result-secondary").lang = OTHER;
    box.hidden = false;
  }

  function fillText() {
    document.querySelectorAll("[data-t]").forEach(function (node) { node.textContent = t(node.getAttribute("data-t")); });
  }

  function renderShow(data) {
    var s = data.show;
    document.querySelector('[data-show="title"]').textContent = s.title[LANG];
    document.querySelector('[data-show="venue"]').textContent = s.venue[LANG];
    var date = document.querySelector('[data-show="date"]');
    date.dateTime = s.starts_at;
    date.textContent = new Date(s.starts_at).toLocaleString(LANG === "ko" ? "ko-KR" : "en-GB", { dateStyle: "long", timeStyle: "short", timeZone: "Asia/Seoul" });
    var prices = $("prices");
    prices.replaceChildren();
    [["A–B", 154000], ["C–D", 132000], ["E–F", 99000]].forEach(function (row) {
      var item = document.createElement("li");
      item.textContent = t("price", { rows: row[0], price: row[1].toLocaleString() });
      prices.append(item);
    });
    state.seats = data.seats;
  }

  function joinQueue() {
    hide("step-show");
    show("step-queue");
    api("POST", "/queue").then(function (answer) {
      state.queueTicket = answer.data.ticket;
      pollQueue(answer.data.wait_s || 0.01);
    }).catch(networkError);
  }

  function pollQueue(total) {
    api("GET", "/queue/" + encodeURIComponent(state.queueTicket)).then(function (answer) {
      var left = answer.data.wait_s;
      $("queue-progress").value = Math.round(100 * (1 - left / total));
      if (answer.data.ready) {
        $("queue-status").textContent = t("queueReady");
        return loadSeats();
      }
      $("queue-status").textContent = t("queueWait", { s: Math.ceil(left) });
      setTimeout(function () { pollQueue(total); }, 500);
    }).catch(networkError);
  }

  function loadSeats() {
    return api("GET", "/show").then(function (answer) {
      state.seats = answer.data.seats;
      renderSeats();
      hide("step-queue");
      show("step-seats");
      $("seat-map").querySelector("button:not([disabled])").focus();
    });
  }

  function renderSeats() {
    var map = $("seat-map");
    map.replaceChildren();
    var row = null;
    state.seats.forEach(function (seat) {
      if (seat.row !== row) {
        row = seat.row;
        var label = document.createElement("span");
        label.className = "row-label";
        label.textContent = row;
        label.setAttribute("aria-hidden", "true");
        map.append(label);
      }
      var button = document.createElement("button");
      button.type = "button";
      button.className = seat.sold ? "seat sold" : "seat";
      button.textContent = seat.sold ? "✕" : String(seat.number);
      button.dataset.seat = seat.id;
      button.disabled = seat.sold;
      button.setAttribute("aria-pressed", String(state.seat === seat.id));
      button.setAttribute("aria-label", t(seat.sold ? "seatSold" : "seatLabel", { seat: seat.id }));
      button.addEventListener("click", function () { chooseSeat(seat); });
      map.append(button);
    });
  }

  function chooseSeat(seat) {
    state.seat = seat.id;
    document.querySelectorAll("#seat-map .seat").forEach(function (node) {
      node.setAttribute("aria-pressed", String(node.dataset.seat === seat.id));
      if (!node.disabled) node.textContent = node.dataset.seat === seat.id ? "✓" : node.dataset.seat.slice(1);
    });
    $("seat-choice").textContent = t("seatChosen", { seat: seat.id, price: seat.price_krw.toLocaleString() });
    $("to-booking").disabled = false;
  }

  function toBooking() {
    hide("step-seats");
    show("step-book");
    $("book-seat").textContent = state.seat;
    $("name").focus();
  }

  function submitBooking(event) {
    event.preventDefault();
    var form = new FormData($("booking-form"));
    var body = {
      seat: state.seat,
      name: String(form.get("name") || "").trim(),
      email: String(form.get("email") || "").trim(),
      queue_ticket: state.queueTicket,
      "tcurity-response": String(form.get("tcurity-response") || "")
    };
    $("book").disabled = true;
    api("POST", "/bookings", body).then(function (answer) {
      say(answer.data.ok, answer.data.message);
      $("result").focus();
      if (answer.data.ok) {
        $("booking-form").querySelectorAll("input, button").forEach(function (node) { node.disabled = true; });
        return;
      }
      $("book").disabled = false;
      if (window.tcurity && answer.data.code !== "invalid_request") window.tcurity.reset();
      if (answer.data.code === "seat_taken") returnToSeats();
    }).catch(function () { $("book").disabled = false; networkError(); });
  }

  function returnToSeats() {
    state.seat = null;
    $("to-booking").disabled = true;
    hide("step-book");
    loadSeats();
  }

  function networkError() {
    say(false, { en: TEXT.en.networkError, ko: TEXT.ko.networkError });
  }

  function start() {
    fillText();
    $("result").tabIndex = -1;
    $("get-tickets").addEventListener("click", joinQueue);
    $("to-booking").addEventListener("click", toBooking);
    $("booking-form").addEventListener("submit", submitBooking);
    api("GET", "/show").then(function (answer) { renderShow(answer.data); }).catch(networkError);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
