// The result page: hand the result to whoever waits for it.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("latchkey-result").textContent);
  if (config.mode !== "modal") return;
  if (window.opener && window.opener !== window) {
    // Opened from the Connect page's modal: that page (same origin) relays it to the app.
    window.opener.postMessage(config.message, window.location.origin);
    window.close();
  } else if (window.parent !== window && config.origin) {
    window.parent.postMessage(config.message, config.origin);
  }
})();
