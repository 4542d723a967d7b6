// Settings › API keys: create (the secret is shown once), list, revoke.

import { h, announce, formatDate } from "./dom.js";
import { confirmDialog } from "./dialog.js";

export class KeysPanel {
  /** onRevokedOwn() runs when the key this page signed in with is revoked. */
  constructor(api, onRevokedOwn, onError) {
    this.api = api;
    this.onRevokedOwn = onRevokedOwn;
    this.onError = onError;
    this.name = h("input", { type: "text", id: "key-name", maxLength: 200, required: true,
                             placeholder: "e.g. laptop" });
    this.test = h("input", { type: "checkbox", id: "key-test",
                             checked: api.key.startsWith("sk_test_") });
    this.secretBox = h("div", { class: "secret", hidden: true });
    this.rows = h("tbody");
    const form = h("form", { class: "key-form", onsubmit: (event) => {
      event.preventDefault();
      this.create();
    } },
      h("label", { class: "field", htmlFor: "key-name" }, h("span", {}, "Name"), this.name),
      h("label", { class: "check" }, this.test, "Test key (simulated answers)"),
      h("button", { type: "submit" }, "Create key"));
    this.el = h("div", { class: "keys" }, form, this.secretBox,
      h("table", { class: "data" },
        h("thead", {}, h("tr", {}, ["Name", "Key", "Kind", "Created", "Status", ""].map(
          (text) => h("th", { scope: "col" }, text)))),
        this.rows));
  }

  async load() {
    try {
      const list = await this.api.get("/v1/keys");
      this.rows.replaceChildren(...list.data.map((key) => this.row(key)));
    } catch (error) {
      this.onError(error);
    }
  }

  isOwn(key) {
    return this.api.key.startsWith(key.prefix);
  }

  row(key) {
    const revoked = Boolean(key.revoked_at);
    return h("tr", { dataset: { id: key.id }, class: revoked ? "revoked" : "" },
      h("td", {}, key.name),
      h("td", {}, h("code", {}, `${key.prefix}…`)),
      h("td", {}, key.test ? "test" : "live"),
      h("td", {}, formatDate(key.created_at)),
      h("td", {}, revoked ? `revoked ${formatDate(key.revoked_at)}`
        : this.isOwn(key) ? "active (this browser)" : "active"),
      h("td", {}, revoked ? "" : h("button", { type: "button", class: "danger small",
        "aria-label": `Revoke ${key.name}`, onclick: () => this.revoke(key) }, "Revoke")));
  }

  async create() {
    const name = this.name.value.trim();
    if (!name) return;
    try {
      const key = await this.api.post("/v1/keys", { name, test: this.test.checked });
      this.name.value = "";
      this.showSecret(key);
      await this.load();
    } catch (error) {
      this.onError(error);
    }
  }

  showSecret(key) {
    const value = h("input", { type: "text", readOnly: true, value: key.secret,
                               class: "secret-value", "aria-label": "New key" });
    const copy = h("button", { type: "button", onclick: async () => {
      value.select();
      try {
        await navigator.clipboard.writeText(key.secret);
        copy.textContent = "Copied";
      } catch {
        copy.textContent = "Press Ctrl+C";
      }
    } }, "Copy");
    const dismiss = h("button", { type: "button", class: "ghost", onclick: () => {
      this.secretBox.hidden = true;
      this.secretBox.replaceChildren();
      this.name.focus();
    } }, "I have saved it");
    this.secretBox.replaceChildren(
      h("p", {}, h("strong", {}, `Key “${key.name}” created. `),
        "Copy it now: it is shown only once and cannot be recovered."),
      h("div", { class: "secret-row" }, value, copy, dismiss));
    this.secretBox.hidden = false;
    value.focus();
    value.select();
    announce("Key created; it is shown once");
  }

  async revoke(key) {
    const own = this.isOwn(key);
    const sure = await confirmDialog(`Revoke “${key.name}”?`,
      own ? "This is the key this browser is signed in with: you will be signed out."
        : "Programs using this key stop working at once.", "Revoke");
    if (!sure) return;
    try {
      await this.api.delete(`/v1/keys/${key.id}`);
    } catch (error) {
      this.onError(error);
      return;
    }
    announce("Key revoked");
    if (own) this.onRevokedOwn();
    else await this.load();
  }
}
