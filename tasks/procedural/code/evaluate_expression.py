def evaluate_expression(expression: str) -> int:
    tokens = expression.replace("(", " ( ").replace(")", " ) ").split()
    pos = 0

    def parse_sum() -> int:
        nonlocal pos
        value = parse_product()
        while pos < len(tokens) and tokens[pos] in ("+", "-"):
            op = tokens[pos]
            pos += 1
            right = parse_product()
            value = value + right if op == "+" else value - right
        return value

    def parse_product() -> int:
        nonlocal pos
        value = parse_atom()
        while pos < len(tokens) and tokens[pos] == "*":
            pos += 1
            value *= parse_atom()
        return value

    def parse_atom() -> int:
        nonlocal pos
        token = tokens[pos]
        pos += 1
        if token == "(":
            value = parse_sum()
            pos += 1  # the closing parenthesis
            return value
        return int(token)

    return parse_sum()
