package keying_test

import (
	"fmt"

	"github.com/picosess/picosess/keying"
)

// Route a Telegram direct message to its session under PicoClaw's default
// dimensions (["chat"]): the signature, the sk_v1_ id that names
// sessions/<id>.jsonl, and the legacy keys the session answers to.
func Example() {
	res, err := keying.NewResolver(keying.Policy{Dimensions: []string{"chat"}})
	if err != nil {
		panic(err)
	}
	in := keying.Inbound{Channel: "telegram", ChatType: "direct", ChatID: "123456789", SenderID: "123456789"}
	r, err := res.Resolve("main", in)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Signature)
	fmt.Println(r.ID)
	for _, a := range r.Aliases {
		fmt.Println("alias", a)
	}
	// Output:
	// v=1|agent=main|channel=telegram|account=default|chat=direct:123456789
	// sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5
	// alias agent:main:main
	// alias agent:main:direct:123456789
	// alias agent:main:telegram:direct:123456789
	// alias agent:main:telegram:default:direct:123456789
}

// A legacy key says what it can about its conversation. This one names
// the DM peer but not the chat id, so it cannot be routed under ["chat"]
// by itself; under ["sender"] it can. A key that cannot be routed keeps
// the id of its own hash (docs/migration.md, rule B).
func ExampleParseLegacy() {
	lk, err := keying.ParseLegacy("agent:main:telegram:direct:123456789")
	if err != nil {
		panic(err)
	}
	fmt.Println(lk.Shape, lk.Agent, lk.Channel, lk.Peer)
	_, complete := lk.Inbound([]string{"chat"})
	fmt.Println("routable under [chat]:", complete)
	in, complete := lk.Inbound([]string{"sender"})
	r, _ := keying.Resolve(lk.Agent, in, keying.Policy{Dimensions: []string{"sender"}})
	fmt.Println("routable under [sender]:", complete, r.Signature)
	fmt.Println("rule B id:", keying.LegacyHash(lk.Raw))
	// Output:
	// channel-peer main telegram 123456789
	// routable under [chat]: false
	// routable under [sender]: true v=1|agent=main|channel=telegram|account=default|sender=123456789
	// rule B id: sk_v1_67578bda20be048dcc2ddc258115357906696e4c637dbec3e8be8a2061d67d5b
}

// The main session of an agent has the id of its main key.
func ExampleMainID() {
	fmt.Println(keying.MainKey(""))
	fmt.Println(keying.MainID(""))
	// Output:
	// agent:main:main
	// sk_v1_6d9217fe77c7f11d9cc992aabe81a2d09604e9c48babbda8fdad3791f9c19f3b
}
