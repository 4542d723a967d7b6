// A modal confirmation, on the native <dialog> (focus is kept inside it, Escape cancels).

import { $ } from "./dom.js";

/** Ask; resolves true only when the confirm button was pressed. */
export function confirmDialog(title, text, confirmLabel = "OK") {
  const dialog = $("#confirm");
  $("#confirm-title", dialog).textContent = title;
  $("#confirm-text", dialog).textContent = text;
  $("#confirm-ok", dialog).textContent = confirmLabel;
  const opener = document.activeElement;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok");
      if (opener && opener.isConnected) opener.focus();
    }, { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    $("#confirm-cancel", dialog).focus();
  });
}
