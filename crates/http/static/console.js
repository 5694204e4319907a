// Enhancements only: every page works without this script.
(function () {
  "use strict";
  // Copy buttons: data-copy names the id of the element whose text to copy.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (!target || !navigator.clipboard) { return; }
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        var label = button.textContent;
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = label; }, 1500);
      });
    });
  });
  // Confirmations: a form with data-confirm asks first, then says it was confirmed
  // (without the script, the server asks on a page of its own).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
        return;
      }
      var yes = document.createElement("input");
      yes.type = "hidden"; yes.name = "confirm"; yes.value = "yes";
      form.appendChild(yes);
    });
  });
  // Relative times, the exact time kept in the tooltip.
  var units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];
  var format = null;
  try {
    format = new Intl.RelativeTimeFormat(document.documentElement.lang || "en", { numeric: "auto" });
  } catch (e) {
    try { format = new Intl.RelativeTimeFormat("en", { numeric: "auto" }); } catch (e2) { format = null; }
  }
  document.querySelectorAll("time[data-relative]").forEach(function (el) {
    var at = Date.parse(el.getAttribute("datetime"));
    if (!format || isNaN(at)) { return; }
    var seconds = (at - Date.now()) / 1000;
    el.title = el.getAttribute("datetime");
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(seconds) >= units[i][1]) {
        el.textContent = format.format(Math.round(seconds / units[i][1]), units[i][0]);
        return;
      }
    }
    el.textContent = format.format(0, "second");
  });
})();
