/**
 * Data frames written byte by byte from the published layouts, independent of the library's
 * own frame builder, so routing tests check the library against the specs rather than against
 * itself. All integers big-endian.
 *
 * - BRC-12 legacy (44 bytes), BRC-124 / BRC-131 / BRC-132 / BRC-149 (92 bytes):
 *   lightwebinc/shard-common `frame/frame.go`, `frame/beef.go`
 * - BRC-130 fragment (104 bytes): lightwebinc/bsv-multicast `docs/brc-130-fragmentation.md`
 * - BRC-142 bundle (66 bytes): lightwebinc/shard-common `bundle/bundle.go`
 */
import { createHash } from 'node:crypto';

const MAGIC = 0xe3e1f3e8;
const PROTO_VER = 0x02bf;

function header(size: number, payload: Uint8Array, frameVer: number, byte7: number) {
  const buf = Buffer.alloc(size + payload.length);
  buf.writeUInt32BE(MAGIC, 0);
  buf.writeUInt16BE(PROTO_VER, 4);
  buf[6] = frameVer;
  buf[7] = byte7;
  buf.set(payload, size);
  return buf;
}

function field32(bytes: Uint8Array | undefined, name: string): Uint8Array {
  const out = bytes ?? new Uint8Array(32);
  if (out.length !== 32) throw new Error(`${name} must be 32 bytes`);
  return out;
}

/** 32 bytes whose first four are `prefix` (big-endian), the rest `fill`. */
export function key32(prefix: number, fill = 0x5a): Buffer {
  const out = Buffer.alloc(32, fill);
  out.writeUInt32BE(prefix >>> 0, 0);
  return out;
}

/** BRC-148 TopicID: SHA-256 of the UTF-8 topic name. */
export function topicId(name: string): Buffer {
  return createHash('sha256').update(name, 'utf8').digest();
}

/** Fields of a 92-byte-header frame. */
export interface Header92 {
  frameVer: number;
  /** Byte 7: reserved 0, or MsgType (block control, subtree data). */
  msgType?: number;
  /** Offset 8: TxID, BlockHash / CoinbaseTxID, SubtreeID or ContentID by version. */
  id?: Uint8Array;
  hashKey?: bigint;
  seq?: bigint;
  /** Offset 56: SubtreeID, TopicID (BEEF) or zero pad. */
  at56?: Uint8Array;
  payload?: Uint8Array;
}

/** A BRC-124-layout frame: magic, version, FrameVer, byte 7, id, HashKey, SeqNum, 32 bytes, length. */
export function frame92(f: Header92): Buffer {
  const payload = f.payload ?? Buffer.from('payload');
  const buf = header(92, payload, f.frameVer, f.msgType ?? 0);
  buf.set(field32(f.id, 'id'), 8);
  buf.writeBigUInt64BE(f.hashKey ?? 1n, 40);
  buf.writeBigUInt64BE(f.seq ?? 1n, 48);
  buf.set(field32(f.at56, 'at56'), 56);
  buf.writeUInt32BE(payload.length, 88);
  return buf;
}

/** A BRC-149 BEEF object frame: ContentID at 8, TopicID at 56. */
export function beefFrame(f: { contentId?: Uint8Array; topicId: Uint8Array; seq?: bigint }) {
  const payload = Buffer.from('0100beef01000000', 'hex'); // BRC-62 version word, then a body
  const contentId =
    f.contentId ??
    createHash('sha256').update(createHash('sha256').update(payload).digest()).digest();
  return frame92({ frameVer: 0x09, id: contentId, at56: f.topicId, seq: f.seq, payload });
}

/** Fields of a BRC-130 fragment. */
export interface Fragment {
  /** Byte 100: the version of the frame the fragment belongs to (0x00 = transaction). */
  origFrameVer: number;
  /** Byte 7: 0, or the original MsgType (BRC-131, BRC-132 fragments keep it). */
  msgType?: number;
  /** Offset 8: the original frame's offset-8 field, identical on every fragment. */
  id?: Uint8Array;
  /** Offset 56: the original frame's offset-56 field (SubtreeID, TopicID). */
  at56?: Uint8Array;
  fragIndex?: number;
  fragTotal?: number;
  data?: Uint8Array;
}

/** A BRC-130 fragment: BRC-124 bytes 0–91, then OrigPayloadLen, FragIndex, FragTotal, OrigFrameVer. */
export function fragmentFrame(f: Fragment): Buffer {
  const data = f.data ?? Buffer.from('fragment data');
  const total = f.fragTotal ?? 3;
  const buf = header(104, data, 0x03, f.msgType ?? 0);
  buf.set(field32(f.id, 'id'), 8);
  buf.writeBigUInt64BE(7n, 40);
  buf.writeBigUInt64BE(8n, 48);
  buf.set(field32(f.at56, 'at56'), 56);
  buf.writeUInt32BE(data.length, 88); // this fragment's data
  buf.writeUInt32BE(data.length * total, 92); // the whole original payload
  buf.writeUInt16BE(f.fragIndex ?? 0, 96);
  buf.writeUInt16BE(total, 98);
  buf[100] = f.origFrameVer;
  return buf; // bytes 101..103 stay zero (Reserved2)
}

/** Fields of a BRC-142 bundle. */
export interface Bundle {
  groupIdx: number;
  /** Byte 58: the shard width GroupIdx was computed at. */
  shardBits?: number;
  /** Offset 8: the SubtreeID shared by every member. */
  subtreeId?: Uint8Array;
  members?: Uint8Array[];
}

/** A BRC-142 bundle: 66-byte header, then `uint16 length ∥ transaction` per member. */
export function bundleFrame(b: Bundle): Buffer {
  const members = b.members ?? [Buffer.from('tx-one'), Buffer.from('tx-two')];
  const body = Buffer.concat(
    members.flatMap((m) => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(m.length);
      return [len, m];
    }),
  );
  const buf = header(66, body, 0x08, 0); // Flags 0: members carry no TxIDs
  buf.set(field32(b.subtreeId, 'subtreeId'), 8);
  buf.writeBigUInt64BE(3n, 40);
  buf.writeBigUInt64BE(4n, 48);
  buf.writeUInt16BE(b.groupIdx, 56);
  buf[58] = b.shardBits ?? 8;
  buf[59] = 0; // reserved
  buf.writeUInt16BE(members.length, 60);
  buf.writeUInt32BE(body.length, 62);
  return buf;
}

/** A BRC-12 legacy frame: 44-byte header with the TxID at 8 and the payload length at 40. */
export function legacyFrame(txId: Uint8Array): Buffer {
  const payload = Buffer.from('legacy tx');
  const buf = header(44, payload, 0x01, 0);
  buf.set(field32(txId, 'txId'), 8);
  buf.writeUInt32BE(payload.length, 40);
  return buf;
}
