/** The Janus Admin API, to see from Janus's side what the bridge did. */
import WebSocket from 'ws';

export async function adminRequest(
  adminUrl: string,
  request: Record<string, unknown>,
  secret = 'janusoverlord',
): Promise<Record<string, unknown>> {
  const ws = new WebSocket(adminUrl, 'janus-admin-protocol');
  await new Promise<void>((done, fail) => {
    ws.once('open', () => done());
    ws.once('error', fail);
  });
  try {
    const transaction = Math.random().toString(36).slice(2);
    const answer = new Promise<Record<string, unknown>>((done) => {
      ws.on('message', (data) => {
        const message = JSON.parse(data.toString()) as Record<string, unknown>;
        if (message.transaction === transaction) done(message);
      });
    });
    ws.send(JSON.stringify({ ...request, transaction, admin_secret: secret }));
    return await answer;
  } finally {
    ws.close();
  }
}

export async function listSessions(adminUrl: string): Promise<number[]> {
  const answer = await adminRequest(adminUrl, { janus: 'list_sessions' });
  return (answer.sessions as number[]) ?? [];
}
