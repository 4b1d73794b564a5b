// Forms with data-confirm ask before they submit. A script file, not an inline handler: the Content-Security-Policy
// (dashboard/security.py) runs scripts from this site only, so an injected inline handler never runs.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
