// The Connect page: search (announced to screen readers), what a click on Connect does next (on
// the way to the provider, or its window opened), close (the button or Escape), and relaying
// results to the app that opened the modal. Its words come from the page, in its language.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("latchkey-config").textContent);
  var text = config.text || {};
  var inModal = config.mode === "modal" && window.parent !== window;

  function toApp(message) {
    if (inModal && config.origin) window.parent.postMessage(message, config.origin);
  }
  function event(name, metadata) {
    toApp({ source: "latchkey", type: "event", name: name, metadata: metadata || {} });
  }

  // What the search shows, said to people who cannot see the list change (a polite live region).
  function announce(term, shown) {
    var status = document.getElementById("search-status");
    if (!status) return;
    if (term === "") status.textContent = "";
    else if (shown === 0) status.textContent = text.none;
    else status.textContent = shown === 1 ? text.one : text.many.replace("{count}", String(shown));
  }

  var search = document.getElementById("search");
  if (search) {
    search.addEventListener("input", function () {
      var term = search.value.trim().toLowerCase();
      var shown = 0;
      document.querySelectorAll(".connector").forEach(function (item) {
        item.hidden = term !== "" && item.getAttribute("data-name").indexOf(term) === -1;
        if (!item.hidden) shown += 1;
      });
      document.querySelectorAll(".group").forEach(function (group) {
        group.hidden = group.querySelectorAll(".connector:not([hidden])").length === 0;
      });
      document.getElementById("no-match").hidden = shown !== 0;
      announce(term, shown);
    });
  }
  // On its way to the provider: say so where the person clicked (a polite live region each
  // connector has), and mark the button busy. A second click still works: a window the browser
  // blocked, or closed, must not leave the page stuck.
  document.querySelectorAll("form[action='/connect/oauth/start']").forEach(function (form) {
    form.addEventListener("submit", function () {
      var item = form.closest(".connector");
      var status = item && item.querySelector(".flow-status");
      if (status) status.textContent = text.redirecting.replace("{name}", form.getAttribute("data-name"));
      if (item) item.classList.add("busy");
      var button = form.querySelector("button[type='submit']");
      if (button) button.setAttribute("aria-busy", "true");
    });
  });
  document.querySelectorAll("[data-connector]").forEach(function (el) {
    el.addEventListener("click", function () {
      event("SELECT_CONNECTOR", { connector: el.getAttribute("data-connector") });
    });
  });
  // Closing, by the button or by Escape: the SDK closes the modal and calls onExit(null, {status:
  // "closed"}). Keys pressed in this frame never reach the app's page, so Escape is relayed.
  function closed() {
    toApp({ source: "latchkey", type: "exit", error: null, metadata: { status: "closed" } });
  }
  var close = document.getElementById("close");
  if (close) close.addEventListener("click", closed);
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !e.defaultPrevented) closed();
  });
  // The provider's window posts its result here (same origin); pass it on to the app.
  window.addEventListener("message", function (e) {
    if (e.origin !== window.location.origin || !e.data || e.data.source !== "latchkey") return;
    toApp(e.data);
  });
  event("OPEN");
})();
