// The photo is sent as soon as it is taken, alone, so a weak connection can retry it without the rest of the form.
// The page's upload id makes a retry idempotent: the server answers a repeat with the first upload's reference.
// A photo that could not be sent stays in the file input, so the form's own submit still carries it: never lost.
(function () {
  "use strict";
  function newUploadId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  document.querySelectorAll("form.vp-details").forEach(function (form) {
    var input = form.querySelector("input[type=file][data-upload]");
    var state = form.querySelector(".vp-photo-state");
    var retry = form.querySelector(".vp-retry");
    var ref = form.querySelector("input[name=photo_ref]");
    var uploadId = form.querySelector("input[name=upload_id]");
    var chosen = form.querySelector(".vp-file-state");
    var busy = false;
    var used = false; // the page's upload id already named a stored photo: a second photo needs a new one

    function show(text, failed) {
      state.hidden = false;
      state.textContent = text;
      state.classList.toggle("vp-failed", Boolean(failed));
    }

    function upload() {
      var file = input && input.files && input.files[0];
      if (!file) { return; }
      busy = true;
      retry.hidden = true;
      show(form.dataset.uploading);
      var data = new FormData();
      data.append("upload_id", uploadId.value);
      // On a confirmed visit's page the upload attaches the photo to the visit at once: nothing is lost if the
      // volunteer leaves without 保存 (which is then only for the note).
      if (form.dataset.visit) { data.append("visit_id", form.dataset.visit); }
      data.append("photo", file, file.name || "photo.jpg");
      // The token as a header: the server then reads the photo as a stream, not as a whole form.
      var token = form.querySelector("input[name=csrf]").value;
      fetch(input.dataset.upload, {
        method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRF-Token": token }
      })
        .then(function (response) {
          return response.json().then(function (body) { return { status: response.status, body: body }; });
        })
        .then(function (answer) {
          busy = false;
          if (answer.status === 200 && answer.body.ref) {
            ref.value = answer.body.ref;
            used = true;
            input.value = ""; // stored: the form need not send it again
            show(form.dataset.uploaded);
          } else if (answer.status === 400) { // refused for good (not a photo, too large): another photo is needed
            input.value = "";
            show(answer.body.error || form.dataset.failed, true);
          } else {
            throw new Error("upload " + answer.status);
          }
        })
        .catch(function () {
          busy = false;
          show(form.dataset.failed, true);
          retry.hidden = false;
        });
    }

    if (input) {
      input.addEventListener("change", function () {
        if (chosen && input.files && input.files[0]) { chosen.textContent = chosen.dataset.chosen; }
        if (used) { uploadId.value = newUploadId(); ref.value = ""; used = false; }
        upload();
      });
      retry.addEventListener("click", upload);
    }
    form.addEventListener("submit", function (event) {
      if (busy) { event.preventDefault(); show(form.dataset.wait); }
    });

    var locate = form.querySelector(".vp-locate");
    if (locate && navigator.geolocation) {
      var locState = form.querySelector(".vp-locate-state");
      locate.hidden = false;
      locate.addEventListener("click", function () {
        navigator.geolocation.getCurrentPosition(function (position) {
          form.querySelector("input[name=lat]").value = String(position.coords.latitude);
          form.querySelector("input[name=lon]").value = String(position.coords.longitude);
          locState.hidden = false;
          locState.textContent = form.dataset.located;
        }, function () {
          locState.hidden = false;
          locState.textContent = form.dataset.unlocated;
        }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
      });
    }
  });
})();
