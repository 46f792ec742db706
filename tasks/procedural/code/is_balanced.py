def is_balanced(brackets: str) -> bool:
    opening = {")": "(", "]": "[", "}": "{"}
    stack = []
    for char in brackets:
        if char in "([{":
            stack.append(char)
        elif not stack or stack.pop() != opening[char]:
            return False
    return not stack
