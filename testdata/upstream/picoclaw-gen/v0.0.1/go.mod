module picosess.invalid/upstream/picoclaw-gen/v001

go 1.25.7

require github.com/sipeed/picoclaw v0.0.1

require github.com/caarlos0/env/v11 v11.3.1 // indirect
