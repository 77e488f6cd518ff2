// A stand-in worker for the supervisor tests: FIXTURE_MODE ready (default) | fail | hang | ignore-stop.
// Answers { type: 'echo', value } with { type: 'echo', index, value, pid }; { type: 'die' } exits with status 3.
const mode = process.env.FIXTURE_MODE ?? 'ready';
process.on('message', (m) => {
  if (m.type === 'stop' && mode !== 'ignore-stop') process.exit(0);
  if (m.type === 'echo') process.send({ type: 'echo', index: Number(process.env.FIXTURE_INDEX), value: m.value, pid: process.pid });
  if (m.type === 'die') process.exit(3);
});
if (mode === 'fail') {
  process.send({ type: 'failed', message: `worker ${process.env.FIXTURE_INDEX}: cannot bind UDP port 5783 (EADDRINUSE)` }, () => process.exit(1));
} else if (mode !== 'hang') {
  process.send({ type: 'ready' });
}
