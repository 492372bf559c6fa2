// The administration pages' index (staff), and what a page says to a user it is not for.
import { h } from "preact";
import { BASE, Link } from "../router.js";

const PAGES = [
  ["users", "Users", "Create users, activate or deactivate them, set their groups."],
  ["groups", "Groups", "Groups and their roles: what their members may view, add, change "
    + "and delete."],
  ["project-codes", "Project codes", "Codes to tag work with a project."],
  ["units", "Custom units", "Units of measure of your own."],
  ["states", "Custom states", "Extra states of status classes, with their colours."],
  ["error-reports", "Error reports", "Failures of the server, to read and clear."],
  ["news", "News", "The InvenTree news feed."],
  ["rates", "Exchange rates", "Currency rates and their refresh."],
  ["services", "Services", "Whether each service is ready."],
];

export function Administration() {
  return h("main", null,
    h("h1", null, "Administration"),
    h("ul", { class: "cards" }, PAGES.map(([path, title, about]) => h("li", { key: path },
      h(Link, { href: `${BASE}/admin/${path}` }, title), h("p", null, about)))));
}

export function NotAllowed() {
  return h("main", null,
    h("h1", null, "Not for your account"),
    h("p", null, "This page is for staff users. ", h(Link, { href: `${BASE}/` }, "Home")));
}
