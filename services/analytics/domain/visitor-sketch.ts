// Distinct visitors as a HyperLogLog sketch (Flajolet et al., 2007, with the
// sparse form of HLL++, Heule et al., 2013). Two sketches merge into the
// sketch of the union: so one link's visitors over any range of days are the
// union of its days' sketches, and a visitor who came on two days counts once.
//
// - Sparse while small: each visitor keeps 16 bits of its hash (a register
//   among 65,536) and a rank; counted by the registers still empty (linear
//   counting): exact in practice for tens of visitors (two of twenty share a
//   register once in 300 days), within about 0.3% up to the switch.
// - Dense once the sparse form would be larger (1,366 registers set): 4,096
//   one-byte registers, each the longest run of leading zeros among the
//   hashes that fall to it; standard error about 1.6%.
//
// A register keeps at most 16 bits of a visitor's salted hash, some 65,000
// IPv4 addresses' worth per user agent: too few to tell an address back, so
// sketches are kept as long as the stats they answer.
//
// No maintained JavaScript package offers a mergeable, serialisable sketch
// (those on the registry are unmaintained or native), hence this file.

/** Registers of the dense form, and the bits of the hash that pick one. */
const PRECISION = 12;
const REGISTERS = 1 << PRECISION;
/** Registers of the sparse form. */
const SPARSE_PRECISION = 16;
const SPARSE_REGISTERS = 1 << SPARSE_PRECISION;
/** Bytes per set register in the sparse form; beyond this many it is dense. */
const SPARSE_BYTES = 3;
const SPARSE_LIMIT = Math.ceil(REGISTERS / SPARSE_BYTES);
const SPARSE = 1;
const DENSE = 2;
/** Bias correction of the raw estimate for this many registers. */
const ALPHA = 0.7213 / (1 + 1.079 / REGISTERS);

/** 2^-rank for every rank a register can hold: the estimate's sum without a power per register. */
const INVERSE_POWERS = Float64Array.from({ length: 64 }, (_, rank) => 2 ** -rank);

/**
 * Dense registers are merged four at a time, as 32-bit words: a rank is at
 * most 67 (4 more index bits than the dense form's, and a 6-bit rank, for a
 * sparse register turned dense; 53 from a hash added to it), so each byte's
 * top bit is free and a word's bytes can be compared without borrowing from
 * their neighbours. The other sketch's registers are copied here first,
 * since stored bytes sit at any offset and a word view needs one divisible
 * by 4.
 */
const WORDS = REGISTERS / 4;
const TOP_BITS = 0x80808080 | 0;
const SCRATCH = new Uint32Array(WORDS);
const SCRATCH_BYTES = new Uint8Array(SCRATCH.buffer);

/**
 * Raises each of `mine` (its own buffer, from offset 0) to the register of
 * `theirs` where that is higher; registers no sketch can hold are refused
 * before anything is changed.
 */
function raiseRegisters(mine: Uint8Array, theirs: Uint8Array): void {
  const into = new Uint32Array(mine.buffer, mine.byteOffset, WORDS);
  SCRATCH_BYTES.set(theirs);
  let seen = 0;
  for (let i = 0; i < WORDS; i++) seen |= (SCRATCH[i] as number) | (into[i] as number);
  if ((seen & TOP_BITS) !== 0) throw new Error('not a visitor sketch (a register above 127)');
  for (let i = 0; i < WORDS; i++) {
    const a = into[i] as number;
    const b = SCRATCH[i] as number;
    // The top bit of each byte of (a | 0x80…) - b is set where a's byte ≥ b's.
    const keep = Math.imul((((a | TOP_BITS) - b) & TOP_BITS) >>> 7, 0xff);
    into[i] = (a & keep) | (b & ~keep);
  }
}

/** Leading zeros of the 64-bit value high:low after its first `skip` bits, plus one. */
function rankAfter(high: number, low: number, skip: number): number {
  const rest = skip === 32 ? 0 : (high << skip) >>> 0;
  if (rest !== 0) return Math.clz32(rest) + 1;
  return 32 - skip + (low !== 0 ? Math.clz32(low) : 32) + 1;
}

export class VisitorSketch {
  /** Sparse registers (16-bit index → rank), until the sketch turns dense. */
  #sparse: Map<number, number> | undefined = new Map();
  /** Dense registers' ranks (0 while unset), once dense. */
  #dense: Uint8Array | undefined;
  /** The dense registers are a view of stored bytes: copied before the first change. */
  #borrowed = false;

  /** The sketch of no visitor. */
  static empty(): VisitorSketch {
    return new VisitorSketch();
  }

  /** A stored sketch; an empty buffer is the empty sketch. */
  static decode(bytes: Uint8Array): VisitorSketch {
    const sketch = new VisitorSketch();
    if (bytes[0] === DENSE && bytes.length === REGISTERS + 1) {
      // A view, not a copy: only a sketch being added to needs its own bytes.
      sketch.#sparse = undefined;
      sketch.#dense = bytes.subarray(1);
      sketch.#borrowed = true;
      return sketch;
    }
    sketch.#mergeEncoded(bytes);
    return sketch;
  }

  /** The union of stored sketches, read straight from their bytes. */
  static union(encodings: Iterable<Uint8Array>): VisitorSketch {
    const union = new VisitorSketch();
    for (const bytes of encodings) union.#mergeEncoded(bytes);
    return union;
  }

  /** Adds every visitor of a stored sketch (as encode() wrote it), read from its bytes. */
  mergeStored(bytes: Uint8Array): void {
    this.#mergeEncoded(bytes);
  }

  /**
   * Adds a visitor by its hash: 16 hex digits (64 bits) of a keyed hash, so
   * every bit is as good as random.
   */
  add(hash: string): void {
    const high = Number.parseInt(hash.slice(0, 8), 16);
    const low = Number.parseInt(hash.slice(8, 16), 16);
    if (hash.length !== 16 || !/^[0-9a-f]+$/i.test(hash)) {
      throw new Error(`a visitor hash is 16 hex digits, not "${hash}"`);
    }
    if (this.#dense) {
      this.#raiseDense(high >>> (32 - PRECISION), rankAfter(high, low, PRECISION));
    } else {
      this.#raiseSparse(high >>> (32 - SPARSE_PRECISION), rankAfter(high, low, SPARSE_PRECISION));
    }
  }

  /** Adds every visitor of `other`. */
  merge(other: VisitorSketch): void {
    if (other.#sparse) {
      for (const [index, rank] of other.#sparse) {
        if (this.#sparse) this.#raiseSparse(index, rank);
        else this.#raiseDenseFromSparse(index, rank);
      }
      return;
    }
    this.#turnDense();
    this.#own();
    raiseRegisters(this.#dense as Uint8Array, other.#dense as Uint8Array);
  }

  #mergeEncoded(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (bytes[0] === SPARSE && (bytes.length - 1) % SPARSE_BYTES === 0) {
      for (let i = 1; i < bytes.length; i += SPARSE_BYTES) {
        const word =
          ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
        if (this.#sparse) this.#raiseSparse(word >>> 6, word & 0x3f);
        else this.#raiseDenseFromSparse(word >>> 6, word & 0x3f);
      }
      return;
    }
    if (bytes[0] === DENSE && bytes.length === REGISTERS + 1) {
      this.#turnDense();
      this.#own();
      raiseRegisters(this.#dense as Uint8Array, bytes.subarray(1));
      return;
    }
    throw new Error(`not a visitor sketch (${bytes.length} bytes, kind ${bytes[0]})`);
  }

  /** How many distinct visitors were added, estimated. */
  estimate(): number {
    if (this.#sparse) {
      const set = this.#sparse.size;
      return Math.round(SPARSE_REGISTERS * Math.log(SPARSE_REGISTERS / (SPARSE_REGISTERS - set)));
    }
    let zero = 0;
    let sum = 0;
    for (const rank of this.#dense as Uint8Array) {
      if (rank === 0) zero++;
      sum += INVERSE_POWERS[rank] ?? 0;
    }
    const raw = (ALPHA * REGISTERS * REGISTERS) / sum;
    // Few visitors for the dense form: count them by the registers still empty.
    if (raw <= 2.5 * REGISTERS && zero > 0)
      return Math.round(REGISTERS * Math.log(REGISTERS / zero));
    return Math.round(raw);
  }

  /** The length of encode()'s bytes, without encoding. */
  get encodedLength(): number {
    return this.#dense
      ? 1 + REGISTERS
      : 1 + SPARSE_BYTES * (this.#sparse as Map<number, number>).size;
  }

  encode(): Uint8Array {
    if (this.#dense) {
      const bytes = new Uint8Array(1 + REGISTERS);
      bytes[0] = DENSE;
      bytes.set(this.#dense, 1);
      return bytes;
    }
    const set = [...(this.#sparse as Map<number, number>)].sort(([a], [b]) => a - b);
    const bytes = new Uint8Array(1 + set.length * SPARSE_BYTES);
    bytes[0] = SPARSE;
    set.forEach(([index, rank], i) => {
      const word = (index << 6) | rank;
      bytes[1 + i * SPARSE_BYTES] = word >>> 16;
      bytes[2 + i * SPARSE_BYTES] = (word >>> 8) & 0xff;
      bytes[3 + i * SPARSE_BYTES] = word & 0xff;
    });
    return bytes;
  }

  #raiseSparse(index: number, rank: number): void {
    const sparse = this.#sparse as Map<number, number>;
    if (rank <= (sparse.get(index) ?? 0)) return;
    sparse.set(index, rank);
    if (sparse.size > SPARSE_LIMIT) this.#turnDense();
  }

  #turnDense(): void {
    if (this.#dense) return;
    const sparse = this.#sparse as Map<number, number>;
    this.#dense = new Uint8Array(REGISTERS);
    this.#sparse = undefined;
    for (const [index, rank] of sparse) this.#raiseDenseFromSparse(index, rank);
  }

  /**
   * A sparse register as the dense form sees it: the first 12 of its 16 bits
   * pick the register; the other 4, then its rank, count the zeros.
   */
  #raiseDenseFromSparse(index: number, rank: number): void {
    const extra = index & ((1 << (SPARSE_PRECISION - PRECISION)) - 1);
    const denseRank =
      extra !== 0
        ? Math.clz32(extra) - (32 - (SPARSE_PRECISION - PRECISION)) + 1
        : SPARSE_PRECISION - PRECISION + rank;
    this.#raiseDense(index >>> (SPARSE_PRECISION - PRECISION), denseRank);
  }

  #own(): void {
    if (!this.#borrowed) return;
    // A copy in a buffer of its own (a Buffer's slice() would be a view of the stored bytes).
    this.#dense = new Uint8Array(this.#dense as Uint8Array);
    this.#borrowed = false;
  }

  #raiseDense(index: number, rank: number): void {
    this.#own();
    const dense = this.#dense as Uint8Array;
    if (rank > (dense[index] ?? 0)) dense[index] = rank;
  }
}
