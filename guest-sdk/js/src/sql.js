// `ctx.storage.sql`: Cloudflare's SQL API over wdo's `sql` interface (SQLite, the object's
// own database, in the event's transaction). `exec` runs at once and returns a cursor over
// all the rows of the last statement.

import * as wit from "wdo:object/sql@0.1.0";
import { hostCall } from "./storage.js";

function toWitValue(value, index) {
  if (value === null || value === undefined) return { tag: "null" };
  switch (typeof value) {
    case "number":
      return Number.isInteger(value) ? { tag: "integer", val: value } : { tag: "real", val: value };
    case "bigint":
      return { tag: "integer", val: Number(value) };
    case "boolean":
      return { tag: "integer", val: value ? 1 : 0 };
    case "string":
      return { tag: "text", val: value };
    default:
      if (value instanceof ArrayBuffer) return { tag: "blob", val: new Uint8Array(value) };
      if (ArrayBuffer.isView(value)) {
        return { tag: "blob", val: new Uint8Array(value.buffer, value.byteOffset, value.byteLength) };
      }
      throw new TypeError(`sql.exec(): binding ${index + 1} is a ${typeof value}; use null, a number, a string or an ArrayBuffer`);
  }
}

function fromWitValue(value) {
  switch (value.tag) {
    case "null":
      return null;
    case "blob": {
      const bytes = value.val instanceof Uint8Array ? value.val : Uint8Array.from(value.val);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    }
    default:
      return value.val;
  }
}

/// The result of `exec`: iterate it for row objects (`{column: value}`), or use `toArray()`,
/// `one()`, `raw()`.
export class SqlStorageCursor {
  constructor(cursor) {
    this.columnNames = cursor.columns;
    this.rowsRead = Number(cursor.rowsRead);
    this.rowsWritten = Number(cursor.rowsWritten);
    this._rows = cursor.rows;
    this._next = 0;
  }

  _object(row) {
    const object = {};
    for (let i = 0; i < this.columnNames.length; i++) object[this.columnNames[i]] = fromWitValue(row[i]);
    return object;
  }

  next() {
    if (this._next >= this._rows.length) return { done: true, value: undefined };
    return { done: false, value: this._object(this._rows[this._next++]) };
  }

  [Symbol.iterator]() {
    return this;
  }

  /// The remaining rows as objects.
  toArray() {
    const rows = [];
    for (let r = this.next(); !r.done; r = this.next()) rows.push(r.value);
    return rows;
  }

  /// The one row; throws unless there is exactly one.
  one() {
    const rows = this.toArray();
    if (rows.length !== 1) {
      throw new Error(rows.length === 0 ? "Expected exactly one result from SQL query, but got no results." : "Expected exactly one result from SQL query, but got multiple results.");
    }
    return rows[0];
  }

  /// The remaining rows as arrays of values, in column order.
  raw() {
    const cursor = this;
    return {
      next() {
        if (cursor._next >= cursor._rows.length) return { done: true, value: undefined };
        return { done: false, value: cursor._rows[cursor._next++].map(fromWitValue) };
      },
      toArray() {
        const rows = [];
        for (let r = this.next(); !r.done; r = this.next()) rows.push(r.value);
        return rows;
      },
      [Symbol.iterator]() {
        return this;
      },
    };
  }
}

export class SqlStorage {
  /// Runs `query` (one statement, or several separated by `;`, only the last with `?`
  /// parameters) with `bindings`. A failed query throws a StorageError whose `code` is the
  /// host's (`query-failed`, `constraint`, `not-authorized`, ...).
  exec(query, ...bindings) {
    if (typeof query !== "string") throw new TypeError("sql.exec() takes the query as a string");
    const params = bindings.map(toWitValue);
    return new SqlStorageCursor(hostCall("sql", () => wit.exec(query, params)));
  }

  /// The database's size in bytes, key-value data included.
  get databaseSize() {
    return Number(wit.databaseSize());
  }
}
