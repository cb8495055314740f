/* Raw deflate decoding (RFC 1951); see inflate.h. Canonical Huffman codes
 * decoded a bit at a time, as in Mark Adler's puff: slower than zlib's
 * tables, but every step is a bounds check away from the input and the
 * output, and qcow2 clusters are small. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "inflate.h"

#define MAXBITS 15
#define MAXLCODES 286
#define MAXDCODES 30
#define FIXLCODES 288

struct state {
	const uint8_t *in;
	size_t in_len, in_pos;
	uint8_t *out;
	size_t out_len, out_pos;
	uint32_t bitbuf;
	int bitcnt;
};

struct huffman {
	short count[MAXBITS + 1]; /* codes of each length */
	short symbol[FIXLCODES];  /* symbols in canonical order */
};

/* need (<= 16) bits, least significant first; -EBADMSG when the input is
 * over: a stream that ends early is an error, never a short success. */
static int bits(struct state *s, int need, int *ret)
{
	uint32_t val = s->bitbuf;

	while (s->bitcnt < need) {
		if (s->in_pos == s->in_len)
			return -EBADMSG;
		val |= (uint32_t)s->in[s->in_pos++] << s->bitcnt;
		s->bitcnt += 8;
	}
	s->bitbuf = val >> need;
	s->bitcnt -= need;
	*ret = (int)(val & ((1u << need) - 1));
	return 0;
}

/* 1 when the output is full: the caller stops there. */
static bool full(const struct state *s)
{
	return s->out_pos == s->out_len;
}

static int stored(struct state *s)
{
	size_t len, nlen, take;

	/* to the next byte boundary */
	s->bitbuf = 0;
	s->bitcnt = 0;
	if (s->in_len - s->in_pos < 4)
		return -EBADMSG;
	len = s->in[s->in_pos] | (size_t)s->in[s->in_pos + 1] << 8;
	nlen = s->in[s->in_pos + 2] | (size_t)s->in[s->in_pos + 3] << 8;
	s->in_pos += 4;
	if (len != (~nlen & 0xffff))
		return -EBADMSG;
	take = len < s->out_len - s->out_pos ? len : s->out_len - s->out_pos;
	if (s->in_len - s->in_pos < take)
		return -EBADMSG;
	memcpy(s->out + s->out_pos, s->in + s->in_pos, take);
	s->out_pos += take;
	s->in_pos += take;
	return 0;
}

static int decode(struct state *s, const struct huffman *h)
{
	int code = 0, first = 0, index = 0;

	for (int len = 1; len <= MAXBITS; len++) {
		int bit, count = h->count[len], r = bits(s, 1, &bit);

		if (r < 0)
			return r;
		code |= bit;
		if (code - count < first)
			return h->symbol[index + (code - first)];
		index += count;
		first += count;
		first <<= 1;
		code <<= 1;
	}
	return -EBADMSG; /* no code of 15 bits or fewer matches */
}

/* Build h from n code lengths. < 0 over-subscribed, 0 complete, > 0
 * incomplete (the caller decides whether that is allowed). */
static int construct(struct huffman *h, const short *length, int n)
{
	short offs[MAXBITS + 1];
	int left = 1;

	memset(h->count, 0, sizeof(h->count));
	for (int sym = 0; sym < n; sym++)
		h->count[length[sym]]++;
	if (h->count[0] == n)
		return 0; /* no codes: complete, but decode will fail */
	for (int len = 1; len <= MAXBITS; len++) {
		left <<= 1;
		left -= h->count[len];
		if (left < 0)
			return left;
	}
	offs[1] = 0;
	for (int len = 1; len < MAXBITS; len++)
		offs[len + 1] = (short)(offs[len] + h->count[len]);
	for (int sym = 0; sym < n; sym++)
		if (length[sym] != 0)
			h->symbol[offs[length[sym]]++] = (short)sym;
	return left;
}

static int codes(struct state *s, const struct huffman *lencode, const struct huffman *distcode)
{
	static const short lbase[29] = { 3,  4,  5,	 6,   7,   8,	9,   10,  11,  13,
					 15, 17, 19,	 23,  27,  31,	35,  43,  51,  59,
					 67, 83, 99,	 115, 131, 163, 195, 227, 258 };
	static const short lext[29] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
					2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0 };
	static const short dbase[30] = { 1,    2,    3,	   4,	  5,	 7,	9,     13,    17,  25,
					 33,   49,   65,   97,	  129,	 193,	257,   385,   513, 769,
					 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577 };
	static const short dext[30] = { 0, 0, 0, 0, 1, 1, 2, 2,	  3,  3,  4,  4,  5,  5,  6,
					6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13 };
	int symbol, r, extra;

	do {
		symbol = decode(s, lencode);
		if (symbol < 0)
			return symbol;
		if (symbol < 256) {
			if (full(s))
				return 0;
			s->out[s->out_pos++] = (uint8_t)symbol;
		} else if (symbol > 256) {
			size_t len, dist;

			symbol -= 257;
			if (symbol >= 29)
				return -EBADMSG;
			if ((r = bits(s, lext[symbol], &extra)) < 0)
				return r;
			len = (size_t)(lbase[symbol] + extra);
			symbol = decode(s, distcode);
			if (symbol < 0)
				return symbol;
			if (symbol >= 30)
				return -EBADMSG;
			if ((r = bits(s, dext[symbol], &extra)) < 0)
				return r;
			dist = (size_t)(dbase[symbol] + extra);
			/* no dictionary: nothing before the first byte out */
			if (dist > s->out_pos)
				return -EBADMSG;
			/* byte by byte: the source may overlap what is written */
			while (len-- > 0) {
				if (full(s))
					return 0;
				s->out[s->out_pos] = s->out[s->out_pos - dist];
				s->out_pos++;
			}
		}
	} while (symbol != 256);
	return 0;
}

static int fixed(struct state *s)
{
	struct huffman lencode, distcode;
	short lengths[FIXLCODES];
	int sym;

	for (sym = 0; sym < 144; sym++)
		lengths[sym] = 8;
	for (; sym < 256; sym++)
		lengths[sym] = 9;
	for (; sym < 280; sym++)
		lengths[sym] = 7;
	for (; sym < FIXLCODES; sym++)
		lengths[sym] = 8;
	construct(&lencode, lengths, FIXLCODES);
	for (sym = 0; sym < MAXDCODES; sym++)
		lengths[sym] = 5;
	construct(&distcode, lengths, MAXDCODES);
	return codes(s, &lencode, &distcode);
}

static int dynamic(struct state *s)
{
	static const short order[19] = { 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15 };
	struct huffman lencode, distcode;
	short lengths[MAXLCODES + MAXDCODES];
	int nlen, ndist, ncode, index, r, v;

	if ((r = bits(s, 5, &nlen)) < 0 || (r = bits(s, 5, &ndist)) < 0 || (r = bits(s, 4, &ncode)) < 0)
		return r;
	nlen += 257;
	ndist += 1;
	ncode += 4;
	if (nlen > MAXLCODES || ndist > MAXDCODES)
		return -EBADMSG;
	for (index = 0; index < 19; index++) {
		v = 0;
		if (index < ncode && (r = bits(s, 3, &v)) < 0)
			return r;
		lengths[order[index]] = (short)v;
	}
	/* the code-length code must be complete */
	if (construct(&lencode, lengths, 19) != 0)
		return -EBADMSG;
	index = 0;
	while (index < nlen + ndist) {
		int symbol = decode(s, &lencode), len = 0, rep;

		if (symbol < 0)
			return symbol;
		if (symbol < 16) {
			lengths[index++] = (short)symbol;
			continue;
		}
		if (symbol == 16) {
			if (index == 0)
				return -EBADMSG; /* nothing to repeat */
			len = lengths[index - 1];
			if ((r = bits(s, 2, &rep)) < 0)
				return r;
			rep += 3;
		} else if (symbol == 17) {
			if ((r = bits(s, 3, &rep)) < 0)
				return r;
			rep += 3;
		} else {
			if ((r = bits(s, 7, &rep)) < 0)
				return r;
			rep += 11;
		}
		if (index + rep > nlen + ndist)
			return -EBADMSG;
		while (rep-- > 0)
			lengths[index++] = (short)len;
	}
	if (lengths[256] == 0)
		return -EBADMSG; /* no end-of-block code */
	/* incomplete codes only for a single length-1 code, as zlib allows */
	r = construct(&lencode, lengths, nlen);
	if (r < 0 || (r > 0 && nlen - lencode.count[0] != 1))
		return -EBADMSG;
	r = construct(&distcode, lengths + nlen, ndist);
	if (r < 0 || (r > 0 && ndist - distcode.count[0] != 1))
		return -EBADMSG;
	return codes(s, &lencode, &distcode);
}

int lb_inflate(const void *in, size_t in_len, void *out, size_t out_len, size_t *ret_len)
{
	struct state s = { .in = in, .in_len = in_len, .out = out, .out_len = out_len };
	int last = 0, type, r;

	do {
		if (full(&s))
			break;
		if ((r = bits(&s, 1, &last)) < 0 || (r = bits(&s, 2, &type)) < 0)
			return r;
		r = type == 0 ? stored(&s) : type == 1 ? fixed(&s) : type == 2 ? dynamic(&s) : -EBADMSG;
		if (r < 0)
			return r;
	} while (!last);
	*ret_len = s.out_pos;
	return 0;
}
