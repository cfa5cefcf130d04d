// A match run's page while the run works: asks the portal for the run's progress every few
// seconds, updates the bar (announced politely: the box is a status region), and reloads the
// page once the run is done, to show its proposals. Without scripts, "Refresh now" does it.
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box) {
    return;
  }
  var bar = box.querySelector("progress");
  var percent = box.querySelector("[data-percent]");
  var phase = box.querySelector("[data-phase]");
  var wait = 2000;

  function show(run) {
    bar.value = run.percent;
    bar.textContent = run.percent + "%";
    percent.textContent = run.percent + "%";
    phase.textContent = run.phase_label ? ": " + run.phase_label : "";
  }

  function poll() {
    fetch(box.getAttribute("data-progress-url"), {
      credentials: "same-origin", headers: {"Accept": "application/json"}
    }).then(function (answer) {
      return answer.ok ? answer.json() : null;
    }).then(function (run) {
      if (run) {
        show(run);
        wait = run.poll_ms || wait;
        if (!run.active) {
          window.location.reload();
          return;
        }
      }
      window.setTimeout(poll, wait);
    }).catch(function () {
      window.setTimeout(poll, wait);  // the portal did not answer: try again
    });
  }

  window.setTimeout(poll, wait);
}());
