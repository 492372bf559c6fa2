import { h, render } from "preact";
import { prefetch } from "./api.js";
import { App } from "./app.jsx";
import { rowsPath } from "./imports/rows.jsx";
import { sessionPath } from "./imports/session.jsx";
import { BASE, match } from "./router.js";
import "./style.css";

// An import's review opened directly (a link, a reload): its session and first page of rows
// are asked for at once, beside the app's own "who is signed in", not one after the other.
const review = match(`${BASE}/imports/:id`, window.location.pathname);
if (review && /^\d+$/.test(review.id)) {
  prefetch(sessionPath(review.id));
  prefetch(rowsPath(review.id));
}

render(h(App, null), document.getElementById("app"));
