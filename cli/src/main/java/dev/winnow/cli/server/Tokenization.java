package dev.winnow.cli.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.tokenizer.Tokenizer;
import dev.winnow.engine.tokenizer.TokenizerException;

/**
 * {@code POST /tokenize} and {@code POST /detokenize} with llama-server's fields: {@code {"content", "add_special"
 * (default false), "parse_special" (default true), "with_pieces" (default false)}} gives {@code {"tokens": [ids]}},
 * or {@code [{"id", "piece"}]} with pieces; {@code {"tokens": [ids]}} gives {@code {"content": text}}. Unknown
 * fields are refused by name, as on the other endpoints.
 */
final class Tokenization {
    private final Tokenizer tokenizer;
    private final int vocabularySize;

    Tokenization(Model model) {
        this.tokenizer = model.tokenizer();
        this.vocabularySize = model.config().vocabularySize();
    }

    ObjectNode tokenize(ObjectNode body, Exchange exchange) {
        RequestFields fields = new RequestFields(body);
        String content = fields.string("content");
        boolean addSpecial = fields.bool("add_special", false);
        boolean parseSpecial = fields.bool("parse_special", true);
        boolean withPieces = fields.bool("with_pieces", false);
        fields.requireAllRead();
        if (content == null) {
            throw ApiException.invalid("content", "'content' is required: the text to tokenize");
        }
        int[] ids;
        try {
            ids = tokenizer.encode(content, addSpecial, parseSpecial);
        } catch (TokenizerException e) {
            throw ApiException.invalid("content", "the text cannot be tokenized: " + e.getMessage());
        }
        exchange.countTokens(-1, ids.length);
        ObjectNode answer = Replies.JSON.createObjectNode();
        ArrayNode tokens = answer.putArray("tokens");
        for (int id : ids) {
            if (withPieces) {
                tokens.addObject().put("id", id).put("piece", tokenizer.piece(id));
            } else {
                tokens.add(id);
            }
        }
        return answer;
    }

    ObjectNode detokenize(ObjectNode body, Exchange exchange) {
        RequestFields fields = new RequestFields(body);
        JsonNode tokens = fields.get("tokens");
        fields.requireAllRead();
        if (tokens == null) {
            throw ApiException.invalid("tokens", "'tokens' is required: an array of token ids");
        }
        int[] ids = RequestParser.tokenIds(tokens, "tokens", vocabularySize);
        exchange.countTokens(ids.length, -1);
        ObjectNode answer = Replies.JSON.createObjectNode();
        answer.put("content", tokenizer.decode(ids));
        return answer;
    }
}
