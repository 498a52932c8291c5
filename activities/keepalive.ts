// The worker's keepalive: while any activity runs, a heartbeat goes out at least every few
// seconds, repeating the details the activity itself last sent (its resume point survives). With
// it every activity can be proxied with a heartbeat timeout, so a worker that dies is noticed in
// seconds whatever the activity is doing; the start-to-close bound is left to catch hangs.
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptors } from '@temporalio/worker';

/** The SDK sends every heartbeat through this field; wrapping it is how the last details are kept. */
type HeartbeatSink = { heartbeatFn: (details?: unknown) => void };

export function keepalive(ctx: Context, everyMs = 5000): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        const timeoutMs = ctx.info.heartbeatTimeoutMs;
        if (!timeoutMs) return next(input);
        const period = Math.min(everyMs, Math.max(250, timeoutMs / 3));
        const sink = ctx as unknown as HeartbeatSink;
        const send = sink.heartbeatFn;
        // a retry's first beat carries the previous attempt's details until the activity sends its own
        let last: unknown = ctx.info.heartbeatDetails;
        let sentAt = performance.now();
        sink.heartbeatFn = (details) => {
          last = details;
          sentAt = performance.now();
          send(details);
        };
        const timer = setInterval(() => {
          if (performance.now() - sentAt < period) return;
          sentAt = performance.now();
          send(last);
        }, period / 2);
        try {
          return await next(input);
        } finally {
          clearInterval(timer);
          sink.heartbeatFn = send;
        }
      },
    },
  };
}
