# The two commands the README promises: `make demo` runs the sample job, `make test` runs the tests.
SWIFT ?= swift
RELEASE = -c release

.PHONY: setup build demo test clean

setup:
	./scripts/setup

build: setup
	$(SWIFT) build $(RELEASE)

demo: build
	$(SWIFT) run $(RELEASE) strata demo

test: setup
	$(SWIFT) test $(RELEASE) -Xswiftc -enable-testing

clean:
	rm -rf .build
