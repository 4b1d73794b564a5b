// Who was paged and who acknowledged, refreshed every few seconds from a small HTML fragment of the same page.
// A failed refresh keeps what is shown and tries again; polling stops once the incident is resolved.
(function () {
  "use strict";
  var box = document.getElementById("paging");
  if (!box) { return; }
  var every = Math.max(2, Number(box.dataset.every) || 5) * 1000;
  function poll() {
    fetch(box.dataset.poll, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) { box.innerHTML = html; })
      .catch(function () {})
      .then(function () { if (!box.querySelector("[data-final]")) { window.setTimeout(poll, every); } });
  }
  if (!box.querySelector("[data-final]")) { window.setTimeout(poll, every); }
})();
