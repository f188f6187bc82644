// The timeout warning and the owner mark (templates/components/timeout_warning.html).
//
// The server renders how many seconds the session has left (data-seconds-left). Some time before
// it ends (data-warn-seconds) this asks the server again (GET /session, which is not activity, so
// another tab's work counts) and, if the end is still near, opens a modal dialog: "Stay signed in"
// (POST /session/stay-signed-in with the form's CSRF token) or "Sign out". If the session ends, the
// dialog says so. Focus moves into the dialog, stays there (Tab and Shift+Tab wrap) and goes back
// where it was when the dialog closes; Escape means "Stay signed in". Screen readers hear the
// dialog's name and message as it opens and the countdown every 30 seconds, not every second.
//
// It also adds the page's owner mark to every form that posts, so that a form sent after its session
// has gone is kept for the person it was shown to (panel/auth/kept.py).

const SPOKEN_EVERY = 30; // seconds between countdown announcements

function words(seconds) {
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  const parts = [];
  if (minutes) parts.push(`${minutes} minute${minutes === 1 ? "" : "s"}`);
  if (rest || !minutes) parts.push(`${rest} second${rest === 1 ? "" : "s"}`);
  return parts.join(" ");
}

function message(seconds) {
  return `For your security, we will sign you out in ${words(seconds)}.`;
}

// What screen readers hear: whole minutes while there are some ("2 minutes", not "1 minute 57 seconds").
function spokenMessage(seconds) {
  return message(seconds >= 60 ? Math.round(seconds / 60) * 60 : seconds);
}

class TimeoutWarning {
  constructor(dialog) {
    this.dialog = dialog;
    this.warnMs = Number(dialog.dataset.warnSeconds) * 1000;
    this.statusUrl = dialog.dataset.statusUrl;
    this.warning = dialog.querySelector("[data-part=warning]");
    this.expired = dialog.querySelector("[data-part=expired]");
    this.countdown = dialog.querySelector("[data-countdown]");
    this.spoken = dialog.querySelector("[data-spoken]");
    this.live = dialog.querySelector("[data-live]");
    this.limit = dialog.querySelector("[data-limit]");
    this.form = this.warning.querySelector("form");
    this.stayButton = dialog.querySelector("[data-stay]");
    this.csrf = dialog.querySelector("[data-csrf]");
    this.deadline = Date.now() + Number(dialog.dataset.secondsLeft) * 1000;
    this.timer = null;
    this.ticker = null;
    this.returnTo = null;
    this.busy = false;
    this.lastSpoken = null;

    this.form.addEventListener("submit", (event) => {
      if (event.submitter === this.stayButton) {
        event.preventDefault();
        this.stay();
      }
    });
    dialog.querySelector("[data-close]").addEventListener("click", () => this.close());
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault(); // Escape: "Stay signed in" while there is time, otherwise close
      if (this.isExpired()) this.close();
      else this.stay();
    });
    dialog.addEventListener("keydown", (event) => this.trapFocus(event));
  }

  start() {
    this.schedule();
  }

  isExpired() {
    return !this.expired.hidden;
  }

  schedule() {
    clearTimeout(this.timer);
    const wait = Math.max(0, this.deadline - this.warnMs - Date.now());
    this.timer = setTimeout(() => this.check(), wait);
  }

  // The server's word on how long is left: seconds, 0 when signed out, null when it cannot be asked.
  async askServer() {
    try {
      const response = await fetch(this.statusUrl, {
        credentials: "same-origin", cache: "no-store", redirect: "manual",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) return null;
      const status = await response.json();
      if (status.csrf_token) this.csrf.value = status.csrf_token;
      return status.signed_in ? Number(status.seconds_left) : 0;
    } catch {
      return null;
    }
  }

  async check() {
    const left = await this.askServer();
    if (left !== null) this.deadline = Date.now() + left * 1000;
    const remaining = this.deadline - Date.now();
    if (remaining <= 0) {
      this.showExpired();
    } else if (remaining > this.warnMs + 1000) {
      // Used in another tab meanwhile: nothing to warn about yet.
      if (this.dialog.open && !this.isExpired()) this.close();
      this.schedule();
    } else {
      this.showWarning();
    }
  }

  open(focusTarget) {
    if (!this.dialog.open) {
      this.returnTo = document.activeElement;
      this.dialog.showModal();
    }
    focusTarget.focus();
  }

  showWarning() {
    this.warning.hidden = false;
    this.expired.hidden = true;
    this.dialog.setAttribute("aria-labelledby", "panel-timeout-heading");
    this.dialog.setAttribute("aria-describedby", "panel-timeout-spoken");
    const seconds = this.secondsLeft();
    this.countdown.textContent = message(seconds);
    this.spoken.textContent = spokenMessage(seconds);
    this.lastSpoken = seconds;
    this.limit.hidden = true;
    const wasOpen = this.dialog.open;
    this.open(this.stayButton);
    if (wasOpen) this.live.textContent = spokenMessage(seconds);
    clearInterval(this.ticker);
    this.ticker = setInterval(() => this.tick(), 1000);
  }

  secondsLeft() {
    return Math.max(0, Math.ceil((this.deadline - Date.now()) / 1000));
  }

  tick() {
    const seconds = this.secondsLeft();
    if (seconds <= 0) {
      clearInterval(this.ticker);
      this.check();
      return;
    }
    this.countdown.textContent = message(seconds);
    if (this.lastSpoken - seconds >= SPOKEN_EVERY) {
      this.lastSpoken = seconds;
      this.live.textContent = spokenMessage(seconds);
    }
  }

  showExpired() {
    clearInterval(this.ticker);
    clearTimeout(this.timer);
    this.warning.hidden = true;
    this.expired.hidden = false;
    this.dialog.setAttribute("aria-labelledby", "panel-timeout-expired-heading");
    this.dialog.setAttribute("aria-describedby", "panel-timeout-expired-text");
    const signIn = this.expired.querySelector("[data-sign-in]");
    const here = new URL(window.location.href);
    const target = new URL(signIn.href);
    target.searchParams.set("next", here.pathname + here.search);
    signIn.href = target.pathname + target.search;
    this.open(this.expired.querySelector("h2"));
    this.live.textContent = "You have been signed out.";
  }

  async stay() {
    if (this.busy) return;
    this.busy = true;
    try {
      if (!this.csrf.value) await this.askServer(); // the token comes with the answer
      const response = await fetch(this.form.action, {
        method: "POST", body: new FormData(this.form), credentials: "same-origin", redirect: "manual",
        headers: { Accept: "application/json" },
      });
      const status = response.ok ? await response.json() : null;
      if (!status || !status.signed_in) {
        this.showExpired();
        return;
      }
      this.deadline = Date.now() + Number(status.seconds_left) * 1000;
      if (this.deadline - Date.now() <= this.warnMs) {
        // The 12-hour limit: no staying longer; say so and keep counting down.
        this.limit.hidden = false;
        this.live.textContent = this.limit.textContent;
        return;
      }
      this.close();
      this.schedule();
    } catch {
      this.live.textContent = "Panel could not be reached. Check your connection and try again.";
    } finally {
      this.busy = false;
    }
  }

  close() {
    clearInterval(this.ticker);
    if (this.dialog.open) this.dialog.close();
    if (this.returnTo && this.returnTo.isConnected && typeof this.returnTo.focus === "function") {
      this.returnTo.focus();
    }
    this.returnTo = null;
  }

  focusable() {
    const part = this.isExpired() ? this.expired : this.warning;
    return [...part.querySelectorAll("a[href], button:not([disabled]), input:not([type=hidden])")]
      .filter((el) => !el.closest("[hidden]"));
  }

  trapFocus(event) {
    if (event.key !== "Tab") return;
    const items = this.focusable();
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    const inList = items.includes(document.activeElement);
    if (event.shiftKey && (document.activeElement === first || !inList)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !inList)) {
      event.preventDefault();
      first.focus();
    }
  }
}

function markForms(mark) {
  for (const form of document.querySelectorAll("form")) {
    if (form.method.toLowerCase() !== "post" || form.querySelector("input[name=kept_owner]")) continue;
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = "kept_owner";
    input.value = mark;
    form.append(input);
  }
}

const dialog = document.getElementById("panel-timeout");
if (dialog) {
  if (dialog.dataset.ownerMark) markForms(dialog.dataset.ownerMark);
  if (typeof dialog.showModal === "function") new TimeoutWarning(dialog).start();
}
