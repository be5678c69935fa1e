// A small object for the test hooks' own tests (testing.test.js): it remembers a note and
// when to remind, and counts the events its current instance has seen.
//
// - `POST /remind` with `{"text": T, "inMs": N}` → `{"scheduled": ms}`: stores T, sets the alarm.
// - `GET /seen` → `{"byThisInstance": N}`: events seen since this instance was created.
import { DurableObject } from "@wdo/sdk";

export class Reminder extends DurableObject {
  seen = 0;

  async fetch(request) {
    this.seen++;
    const url = new URL(request.url);
    if (url.pathname === "/remind") {
      const { text, inMs } = await request.json();
      const at = Date.now() + inMs;
      await this.ctx.storage.put("text", text);
      await this.ctx.storage.setAlarm(at);
      return Response.json({ scheduled: at });
    }
    if (url.pathname === "/seen") {
      return Response.json({ byThisInstance: this.seen });
    }
    return new Response("Not Found", { status: 404 });
  }

  async alarm() {
    await this.ctx.storage.put("reminded", { text: await this.ctx.storage.get("text") });
  }
}
