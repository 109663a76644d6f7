module certswap.test/go-static-producer

go 1.26.0
