// What the importer's target models are called for a person, and the session statuses.
export const MODEL_NAMES = {
  projectcode: "Project codes",
  customunit: "Custom units",
  inventreecustomuserstatemodel: "Custom states",
};

export const modelName = (type) => MODEL_NAMES[type] || type;

export const STATUS = { INITIALIZING: 0, MAPPING: 10, IMPORTING: 20, PROCESSING: 30, COMPLETE: 40 };

export const STATUS_NAMES = {
  0: "Scanning the file", 10: "Mapping columns", 20: "Reading rows", 30: "Reviewing rows",
  40: "Complete",
};

export const EXTENSIONS = ["csv", "tsv", "json", "xlsx"];

export function fileName(dataFile) {
  return decodeURIComponent(String(dataFile || "").split("/").pop() || "");
}

export function fieldLabel(session, field) {
  const info = session.available_fields[field];
  return (info && info.label) || field;
}
