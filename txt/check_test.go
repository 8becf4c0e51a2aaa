package txt

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sizedRecord builds a record of exactly n wire bytes (n >= 3) from
// strings with distinct short keys, so that only size rules apply.
func sizedRecord(t *testing.T, n int) Record {
	t.Helper()
	count := (n + 250) / 251
	var items []Item
	for i := range count {
		w := n / count
		if i < n%count {
			w++
		}
		key := strconv.Itoa(i)
		items = append(items, Item{Key: key, Value: []byte(strings.Repeat("v", w-1-len(key)-1)), HasValue: true})
	}
	rec := Record{Items: items}
	require.Equal(t, n, rec.WireLen())
	wire, err := rec.Encode()
	require.NoError(t, err)
	require.Len(t, wire, n)
	return rec
}

// decodeT decodes the wire form of strs.
func decodeT(t *testing.T, strs ...string) Record {
	t.Helper()
	rec, err := Decode(wireOf(strs...))
	require.NoError(t, err)
	return rec
}

func TestCheckConforming(t *testing.T) {
	for _, rec := range []Record{
		{},
		decodeT(t, ""),
		decodeT(t, "path=/tz"),
		decodeT(t, "txtvers=1", "flag", "empty=", "sp ace=x", "ninechars=9", "bin=\x00\xff"),
		decodeT(t, "a=1", "b=1", "c=1"),
	} {
		assert.Empty(t, Check(rec), rec.String())
	}
}

func TestCheckEmptyKeys(t *testing.T) {
	// A string beginning with '=' has no key (RFC 6763 section 6.4).
	fs := Check(decodeT(t, "a=1", "=value"))
	require.Len(t, fs, 1)
	assert.Equal(t, Fatal, fs[0].Severity)
	assert.Equal(t, 4, fs[0].Offset)
	assert.Equal(t, "RFC 6763 section 6.4", fs[0].Rule)
	assert.Contains(t, fs[0].Reason, "the key is missing")

	fs = Check(decodeT(t, "="))
	require.Len(t, fs, 1)
	assert.Equal(t, Fatal, fs[0].Severity)

	// A zero-length string is allowed only as the whole (empty) record.
	fs = Check(decodeT(t, "a=1", "", "b"))
	require.Len(t, fs, 1)
	assert.Equal(t, Fatal, fs[0].Severity)
	assert.Equal(t, 4, fs[0].Offset)
	assert.Contains(t, fs[0].Reason, "zero-length string in a record of 3 strings")

	fs = Check(decodeT(t, "", ""))
	require.Len(t, fs, 2)
	assert.Equal(t, 0, fs[0].Offset)
	assert.Equal(t, 1, fs[1].Offset)
}

func TestCheckKeyCharacters(t *testing.T) {
	tests := []struct {
		rec    Record
		key    string
		offset int
		reason string
	}{
		{decodeT(t, "ok=1", "k\x01y=1"), "k\x01y", 5, "key byte 1 (wire offset 7) is 0x01"},
		{decodeT(t, "\x7f"), "\x7f", 0, "key byte 0 (wire offset 1) is 0x7f"},
		{decodeT(t, "caf\xc3\xa9=1"), "caf\xc3\xa9", 0, "key byte 3 (wire offset 4) is 0xc3"},
		{Record{Items: []Item{{Key: "a=b"}}}, "a=b", 0, "key byte 1 (wire offset 2) is 0x3d"},
	}
	for _, tt := range tests {
		fs := Check(tt.rec)
		require.Len(t, fs, 1, tt.rec.String())
		assert.Equal(t, Fatal, fs[0].Severity)
		assert.Equal(t, tt.key, fs[0].Key)
		assert.Equal(t, tt.offset, fs[0].Offset)
		assert.Equal(t, "RFC 6763 section 6.4", fs[0].Rule)
		assert.Contains(t, fs[0].Reason, tt.reason)
	}
	// Only the first bad byte of a key is reported.
	assert.Len(t, Check(decodeT(t, "\x01\x02\x03")), 1)
}

func TestCheckKeyLength(t *testing.T) {
	assert.Empty(t, Check(decodeT(t, "123456789=x")))
	fs := Check(decodeT(t, "a", "1234567890=x"))
	require.Len(t, fs, 1)
	assert.Equal(t, Warning, fs[0].Severity)
	assert.Equal(t, "1234567890", fs[0].Key)
	assert.Equal(t, 2, fs[0].Offset)
	assert.Equal(t, "RFC 6763 section 6.4", fs[0].Rule)
	assert.Equal(t, "key is 10 characters long; it should be no more than 9", fs[0].Reason)
}

func TestCheckDuplicates(t *testing.T) {
	fs := Check(decodeT(t, "path=/a", "x", "PATH=/b", "Path"))
	require.Len(t, fs, 2)
	for i, off := range []int{10, 18} {
		assert.Equal(t, Warning, fs[i].Severity)
		assert.Equal(t, off, fs[i].Offset)
		assert.Equal(t, "RFC 6763 section 6.4", fs[i].Rule)
		assert.Contains(t, fs[i].Reason, "first at offset 0")
	}
	assert.Equal(t, "PATH", fs[0].Key)
	assert.Equal(t, "Path", fs[1].Key)
}

func TestCheckStringLength(t *testing.T) {
	rec := Record{Items: []Item{{Key: "k", Value: []byte(strings.Repeat("v", 254)), HasValue: true}}}
	fs := Check(rec)
	require.Len(t, fs, 1)
	assert.Equal(t, Fatal, fs[0].Severity)
	assert.Equal(t, "RFC 6763 section 6.1", fs[0].Rule)
	assert.Equal(t, "string of 256 bytes is longer than 255 bytes", fs[0].Reason)

	rec.Items[0].Value = rec.Items[0].Value[:253]
	assert.Empty(t, Check(rec))
}

func TestCheckRecordSize(t *testing.T) {
	assert.Empty(t, Check(sizedRecord(t, MaxRecommendedSize)))

	fs := Check(sizedRecord(t, MaxRecommendedSize+1))
	require.Len(t, fs, 1)
	assert.Equal(t, Warning, fs[0].Severity)
	assert.Equal(t, -1, fs[0].Offset)
	assert.Equal(t, "RFC 6763 section 6.2", fs[0].Rule)
	assert.Contains(t, fs[0].Reason, "record is 1301 bytes")

	fs = Check(sizedRecord(t, MaxSize))
	require.Len(t, fs, 1)
	assert.Equal(t, Warning, fs[0].Severity)

	fs = Check(sizedRecord(t, MaxSize+1))
	require.Len(t, fs, 1, "the Fatal finding replaces the Warning")
	assert.Equal(t, Fatal, fs[0].Severity)
	assert.Equal(t, "RFC 6763 section 6.1", fs[0].Rule)
	assert.Contains(t, fs[0].Reason, "record is 8901 bytes")
}

func TestCheckSortedByOffset(t *testing.T) {
	rec := sizedRecord(t, 1400)
	rec.Items = append(rec.Items, Item{Key: "0"}, Item{Key: "averyverylongkey"}, Item{Key: "=x"})
	fs := Check(rec)
	require.Len(t, fs, 4)
	assert.Equal(t, -1, fs[0].Offset, "record-level first")
	for i := 1; i < len(fs); i++ {
		assert.Less(t, fs[i-1].Offset, fs[i].Offset)
	}
}

func TestErrorFormat(t *testing.T) {
	fs := Check(decodeT(t, "ok", "k\x01=1"))
	require.Len(t, fs, 1)
	assert.Equal(t,
		`error: key "k\x01" at offset 3: key byte 1 (wire offset 5) is 0x01; a key may hold only printable US-ASCII 0x20-0x7E other than '=' (RFC 6763 section 6.4)`,
		fs[0].Error())

	fs = Check(Record{ZeroLength: true})
	require.Len(t, fs, 1)
	assert.True(t, strings.HasPrefix(fs[0].Error(), "error: the record has no strings"), fs[0].Error())
}
