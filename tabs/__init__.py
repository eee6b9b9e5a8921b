"""The app's tabs, one builder module each: ``build(registry)`` lays out the tab's components and
wires its events; the handlers are plain functions the tests call directly."""
