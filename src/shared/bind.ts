import { createSocket, type Socket } from 'node:dgram';

/**
 * A UDP socket of `family` bound to `address`, port 0. A bind that fails closes the socket
 * and rejects with the bind's error.
 */
export async function bindUdp(family: 4 | 6, address: string): Promise<Socket> {
  const socket = createSocket({ type: family === 4 ? 'udp4' : 'udp6' });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    try {
      socket.close();
    } catch {
      // already closed by the failed bind
    }
    throw err;
  }
  return socket;
}
