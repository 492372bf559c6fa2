import { h, render } from "preact";
import { App } from "./app.jsx";
import "./style.css";

render(h(App, null), document.getElementById("app"));
