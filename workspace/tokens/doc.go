// Package tokens counts tokens as a chat model sees them, for the token
// counts picosess stores with every message and summary at append: a
// tiktoken counter whose o200k_base table is embedded in a form that needs
// no start-up work (so a one-message CLI append costs what a no-op command
// does), a cheap estimate, and the chat format's per-message frame. It is
// a leaf package: the workspace (whose default counter this is) and
// summarize (the context builder) count with the same functions, so a
// stored count is the same whichever process wrote it.
//
//	c, _ := tokens.New("tiktoken", "")       // o200k_base
//	n := tokens.MessageTokens(c, tokens.Message{Role: "user", Content: "hello"})
//
// # Files it owns
//
// None: the tables are compiled into the binary (o200k_base.bin embedded,
// the other encodings from tiktoken-go-loader's offline copy);
// nothing is downloaded or cached on disk.
package tokens
