/**
 * multipart/form-data bodies (busboy): text fields plus uploaded files held in memory under a
 * total size cap, since uploads are small spreadsheets.
 */
import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { HttpError, tooLarge } from './http-io.js';

/** Largest multipart body accepted. */
const MAX_MULTIPART_BYTES = 10 * 1024 * 1024;

export interface UploadedFile {
  filename: string;
  mimeType: string;
  data: Buffer;
}

export interface MultipartBody {
  fields: Map<string, string>;
  files: Map<string, UploadedFile>;
}

/** Reads a multipart/form-data request; 400 when it is not one, 413 past the cap. */
export async function readMultipart(req: IncomingMessage, maxBytes = MAX_MULTIPART_BYTES): Promise<MultipartBody> {
  if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('multipart/form-data')) {
    req.resume();
    throw new HttpError(400, 'Expected a multipart/form-data body with a file field');
  }
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) {
    req.resume();
    throw tooLarge(maxBytes);
  }
  return new Promise<MultipartBody>((resolve, reject) => {
    const fields = new Map<string, string>();
    const files = new Map<string, UploadedFile>();
    let total = 0;
    let failed = false;
    const fail = (error: HttpError): void => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.resume();
      reject(error);
    };
    const malformed = (): void => fail(new HttpError(400, 'Malformed multipart/form-data body'));
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fileSize: maxBytes, files: 5, fields: 50 } });
    } catch {
      req.resume();
      reject(new HttpError(400, 'Malformed multipart/form-data header'));
      return;
    }
    parser.on('field', (name, value) => fields.set(name, value));
    parser.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > maxBytes) fail(tooLarge(maxBytes));
        else chunks.push(chunk);
      });
      stream.on('limit', () => fail(tooLarge(maxBytes)));
      // A body that ends before its closing boundary errors the file stream too ("Unexpected end
      // of form"); an 'error' without a listener would crash the process.
      stream.on('error', malformed);
      stream.on('end', () => files.set(name, { filename: info.filename ?? '', mimeType: info.mimeType, data: Buffer.concat(chunks) }));
    });
    parser.on('close', () => {
      if (!failed) resolve({ fields, files });
    });
    parser.on('error', malformed);
    // A client gone mid-body: settle rather than wait forever. (Not stream.pipeline: it would
    // destroy the request, and with it the socket the 400 is written to.)
    req.on('error', malformed);
    // The whole body counts, fields and framing included: a chunked body declares no length, and
    // busboy's own limits are per field and per file.
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes) fail(tooLarge(maxBytes));
    });
    req.on('close', () => {
      if (!req.complete) malformed();
    });
    req.pipe(parser);
  });
}
