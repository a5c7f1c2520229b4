package serve

func stopBrowser() {}
