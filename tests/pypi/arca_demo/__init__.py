def hello():
    return "hello from arca-demo"
