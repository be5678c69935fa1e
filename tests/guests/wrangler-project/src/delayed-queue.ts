// The DelayedQueue (alarms) of Cloudflare's Durable Objects documentation, as published (TypeScript; only
// its text's indentation was lost in the copy). `processTask` is not defined by the reference:
// ./process-task.ts defines it.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env";
import { processTask } from "./process-task";

export class DelayedQueue implements DurableObject {
constructor(private state: DurableObjectState, private env: Env) {}
async fetch(request: Request): Promise<Response> {
const url = new URL(request.url);
if (url.pathname === "/schedule") {
const { task, delaySeconds } = await request.json<{ task: string; delaySeconds: number }>();
// Store the task
const tasks = (await this.state.storage.get<string[]>("tasks")) || [];
tasks.push(task);
await this.state.storage.put("tasks", tasks);
// Schedule alarm (only one alarm at a time per object)
const currentAlarm = await this.state.storage.getAlarm();
if (!currentAlarm) {
await this.state.storage.setAlarm(Date.now() + delaySeconds * 1000);
}
return Response.json({ scheduled: true });
}
return new Response("Not Found", { status: 404 });
}
// Called when the alarm fires
async alarm(): Promise<void> {
const tasks = (await this.state.storage.get<string[]>("tasks")) || [];
if (tasks.length > 0) {
const task = tasks.shift()!;
await processTask(task);
await this.state.storage.put("tasks", tasks);
// Schedule next alarm if more tasks remain
if (tasks.length > 0) {
await this.state.storage.setAlarm(Date.now() + 1000);
}
}
}
}
