/**
 * Opens a .xlsx (zip) archive far enough to know what parsing it would cost, before exceljs sees
 * it: the central directory's entry count and declared sizes are checked first, then every entry
 * is inflated under a byte budget (a zip bomb stops at the budget, not at its declared size), and
 * the local headers must tile the file exactly as the central directory says. exceljs's streaming
 * reader walks local headers while this walks the central directory; requiring both views to agree
 * means no entry can hide from the check.
 *
 * Format: PKWARE APPNOTE 6.3 — end of central directory (EOCD, 22 bytes + comment), central
 * directory headers (46 bytes + name + extra + comment), local headers (30 bytes + name + extra),
 * optional data descriptor after the data when flag bit 3 is set. ZIP64 and encryption are refused:
 * no spreadsheet within these limits needs them.
 */
import { inflateRawSync } from 'node:zlib';
import { HttpError } from './http-io.js';

export interface ZipLimits {
  maxEntries: number;
  /** Budget for all entries together, inflated. */
  maxUncompressedBytes: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const DESCRIPTOR_SIGNATURE = 0x08074b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const FLAG_ENCRYPTED = 0x1;
const FLAG_DATA_DESCRIPTOR = 0x8;
const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;

interface CentralEntry {
  name: string;
  flags: number;
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  localOffset: number;
}

const corrupt = (detail: string): HttpError =>
  new HttpError(400, `Could not read the .xlsx file (is it a valid Excel workbook?): ${detail}`);

/** The entries of a zip archive, inflated, by name; HttpError 400 when malformed, 413 past `limits`. */
export function inflateZip(data: Buffer, limits: ZipLimits): Map<string, Buffer> {
  const entries = readCentralDirectory(data, limits);
  const contents = new Map<string, Buffer>();
  let budget = limits.maxUncompressedBytes;
  for (const entry of entries) {
    const start = dataStart(data, entry);
    const raw = data.subarray(start, start + entry.compressedSize);
    if (raw.length !== entry.compressedSize) throw corrupt('an entry is cut short');
    let content: Buffer;
    if (entry.method === METHOD_STORED) content = raw;
    else if (entry.method === METHOD_DEFLATED) {
      try {
        // maxOutputLength stops a bomb at the budget instead of at its (possibly false) declared size.
        content = inflateRawSync(raw, { maxOutputLength: Math.max(1, budget) });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLargeUnpacked(limits);
        throw corrupt('an entry does not inflate');
      }
    } else throw corrupt(`unsupported compression method ${entry.method}`);
    if (content.length !== entry.uncompressedSize) throw corrupt('an entry is not the size its header declares');
    budget -= content.length;
    if (budget < 0) throw tooLargeUnpacked(limits);
    contents.set(entry.name, content);
  }
  return contents;
}

function tooLargeUnpacked(limits: ZipLimits): HttpError {
  return new HttpError(413, `The .xlsx file unpacks to more than ${limits.maxUncompressedBytes / 1024 / 1024} MB`);
}

function readCentralDirectory(data: Buffer, limits: ZipLimits): CentralEntry[] {
  let eocd = -1;
  for (let p = data.length - EOCD_SIZE; p >= Math.max(0, data.length - EOCD_SIZE - MAX_COMMENT); p--) {
    if (data.readUInt32LE(p) === EOCD_SIGNATURE) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) throw corrupt('no zip directory');
  const count = data.readUInt16LE(eocd + 10);
  const directorySize = data.readUInt32LE(eocd + 12);
  const directoryOffset = data.readUInt32LE(eocd + 16);
  if (data.readUInt16LE(eocd + 4) !== 0 || data.readUInt16LE(eocd + 6) !== 0 || count !== data.readUInt16LE(eocd + 8)) {
    throw corrupt('multi-part archives are not supported');
  }
  if (count === 0xffff || directoryOffset === 0xffffffff) throw corrupt('ZIP64 archives are not supported');
  if (count > limits.maxEntries) throw new HttpError(413, `The .xlsx file holds more than ${limits.maxEntries} parts`);
  if (directoryOffset + directorySize !== eocd) throw corrupt('the zip directory is not where the archive says');

  const entries: CentralEntry[] = [];
  let declared = 0;
  let p = directoryOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > eocd || data.readUInt32LE(p) !== CENTRAL_SIGNATURE) throw corrupt('a damaged zip directory');
    const nameLength = data.readUInt16LE(p + 28);
    const entry: CentralEntry = {
      flags: data.readUInt16LE(p + 8),
      method: data.readUInt16LE(p + 10),
      compressedSize: data.readUInt32LE(p + 20),
      uncompressedSize: data.readUInt32LE(p + 24),
      localOffset: data.readUInt32LE(p + 42),
      name: data.toString('utf8', p + 46, p + 46 + nameLength),
    };
    if (entry.flags & FLAG_ENCRYPTED) throw corrupt('encrypted entries are not supported');
    if (entry.uncompressedSize === 0xffffffff || entry.compressedSize === 0xffffffff) throw corrupt('ZIP64 archives are not supported');
    // Declared sizes first: an honest large file is refused before anything is inflated.
    declared += entry.uncompressedSize;
    if (declared > limits.maxUncompressedBytes) throw tooLargeUnpacked(limits);
    entries.push(entry);
    p += 46 + nameLength + data.readUInt16LE(p + 30) + data.readUInt16LE(p + 32);
  }
  if (p !== eocd) throw corrupt('a damaged zip directory');
  checkTiling(data, entries, directoryOffset);
  return entries;
}

/** Where an entry's data starts, after its local header (which must agree with the directory). */
function dataStart(data: Buffer, entry: CentralEntry): number {
  const p = entry.localOffset;
  if (p + 30 > data.length || data.readUInt32LE(p) !== LOCAL_SIGNATURE) throw corrupt('a damaged entry header');
  const nameLength = data.readUInt16LE(p + 26);
  if (data.toString('utf8', p + 30, p + 30 + nameLength) !== entry.name || data.readUInt16LE(p + 8) !== entry.method) {
    throw corrupt('an entry header disagrees with the zip directory');
  }
  if ((data.readUInt16LE(p + 6) & FLAG_DATA_DESCRIPTOR) === 0) {
    if (data.readUInt32LE(p + 18) !== entry.compressedSize || data.readUInt32LE(p + 22) !== entry.uncompressedSize) {
      throw corrupt('an entry header disagrees with the zip directory');
    }
  } else if (entry.method !== METHOD_DEFLATED) {
    // A stored entry of unknown length can only be found by scanning for a signature.
    throw corrupt('a stored entry without sizes');
  }
  return p + 30 + nameLength + data.readUInt16LE(p + 28);
}

/** Local entries must follow each other with no gap from offset 0 to the central directory. */
function checkTiling(data: Buffer, entries: readonly CentralEntry[], directoryOffset: number): void {
  let expected = 0;
  for (const entry of [...entries].sort((a, b) => a.localOffset - b.localOffset)) {
    if (entry.localOffset !== expected) throw corrupt('the archive holds data outside its directory');
    let end = dataStart(data, entry) + entry.compressedSize;
    if (data.readUInt16LE(entry.localOffset + 6) & FLAG_DATA_DESCRIPTOR) {
      end += end + 4 <= data.length && data.readUInt32LE(end) === DESCRIPTOR_SIGNATURE ? 16 : 12;
    }
    expected = end;
  }
  if (expected !== directoryOffset) throw corrupt('the archive holds data outside its directory');
}
