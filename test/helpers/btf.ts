// SPDX-License-Identifier: Apache-2.0
/**
 * What the tests ask of a kernel's BTF, read straight from the blob (/sys/kernel/btf/vmlinux):
 * whether a function exists, a struct's member names, the enumerator names. The tests' own
 * reader, independent of libbpf and of the agent. `bpftool btf dump ... format raw` gives the
 * same facts (test/btf.test.ts compares the two on the host), but printing and scanning 12 MB
 * of text takes ~40 s in an emulated guest; this takes a fraction of a second.
 *
 * The format (Documentation/bpf/btf.rst): a header, then the type section, then the string
 * section. Each type is 12 bytes (name offset, info, size-or-type) and kind-specific data
 * after it, whose length follows from the kind and vlen in info.
 */
import { readFileSync } from 'node:fs';

export interface BtfFacts {
  /** Names of every FUNC. */
  funcs: Set<string>;
  /** Member names of each STRUCT or UNION, for the names asked for. */
  members: Record<string, string[]>;
  /** Enumerator names of every ENUM and ENUM64. */
  enumerators: Set<string>;
}

const MAGIC = 0xeb9f;
const KIND = { int: 1, array: 3, struct: 4, union: 5, enum: 6, funcProto: 13, func: 12, var: 14, datasec: 15, declTag: 17, enum64: 19 } as const;

/** Bytes of kind-specific data after a type's 12-byte header. */
function trailing(kind: number, vlen: number): number {
  switch (kind) {
    case KIND.int:
    case KIND.var:
    case KIND.declTag:
      return 4;
    case KIND.array:
      return 12;
    case KIND.struct:
    case KIND.union:
    case KIND.datasec:
    case KIND.enum64:
      return 12 * vlen;
    case KIND.enum:
    case KIND.funcProto:
      return 8 * vlen;
    default:
      return 0; // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG
  }
}

/** Parses a BTF blob; `structs` names the structs and unions whose members are kept. */
export function parseBtf(blob: Buffer, structs: readonly string[]): BtfFacts {
  if (blob.length < 24 || blob.readUInt16LE(0) !== MAGIC) throw new Error('not a little-endian BTF blob (magic 0xeb9f)');
  const hdrLen = blob.readUInt32LE(4);
  const typeStart = hdrLen + blob.readUInt32LE(8);
  const typeEnd = typeStart + blob.readUInt32LE(12);
  const strStart = hdrLen + blob.readUInt32LE(16);
  const strEnd = strStart + blob.readUInt32LE(20);
  if (typeEnd > blob.length || strEnd > blob.length) throw new Error('BTF sections run past the end of the blob');
  const name = (off: number) => {
    const at = strStart + off;
    const end = blob.indexOf(0, at);
    return blob.toString('latin1', at, end < 0 || end > strEnd ? strEnd : end);
  };
  const wanted = new Set(structs);
  const facts: BtfFacts = { funcs: new Set(), members: {}, enumerators: new Set() };
  for (let at = typeStart; at < typeEnd; ) {
    const info = blob.readUInt32LE(at + 4);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const body = at + 12;
    if (kind === KIND.func) facts.funcs.add(name(blob.readUInt32LE(at)));
    else if (kind === KIND.enum || kind === KIND.enum64) {
      const step = kind === KIND.enum ? 8 : 12;
      for (let i = 0; i < vlen; i++) facts.enumerators.add(name(blob.readUInt32LE(body + i * step)));
    } else if ((kind === KIND.struct || kind === KIND.union) && wanted.size > 0) {
      const n = name(blob.readUInt32LE(at));
      if (wanted.has(n) && !(n in facts.members)) {
        const names: string[] = [];
        for (let i = 0; i < vlen; i++) names.push(name(blob.readUInt32LE(body + i * 12)));
        facts.members[n] = names;
      }
    }
    at = body + trailing(kind, vlen);
  }
  return facts;
}

/** The running kernel's BTF facts (/sys/kernel/btf/vmlinux). */
export function vmlinuxFacts(structs: readonly string[]): BtfFacts {
  return parseBtf(readFileSync('/sys/kernel/btf/vmlinux'), structs);
}
