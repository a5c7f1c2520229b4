package workspace

import "encoding/base64"

// sealed reads the "enc" string of an encrypted record: standard base64
// of the box (docs/encryption.md).
func (p *fastParser) sealed(r *Record) bool {
	start := p.i + 1
	if _, ok := p.plainString(); !ok {
		return false
	}
	src := p.b[start : p.i-1]
	box := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
	n, err := base64.StdEncoding.Decode(box, src)
	if err != nil {
		return false
	}
	r.Sealed = box[:n]
	return true
}
