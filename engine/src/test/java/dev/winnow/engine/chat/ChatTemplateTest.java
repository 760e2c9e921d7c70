package dev.winnow.engine.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

class ChatTemplateTest {
    private static final List<ChatMessage> THREE_TURNS = List.of(
            ChatMessage.system("You are terse."),
            ChatMessage.user("Hi!"),
            ChatMessage.assistant("Hello."),
            ChatMessage.user("What is 2+2?"),
            ChatMessage.assistant("4."),
            ChatMessage.user("Thanks"));

    @Test
    void rendersLlama2() {
        assertEquals("<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi! [/INST] Hello. </s>"
                        + "<s>[INST] What is 2+2? [/INST] 4. </s>"
                        + "<s>[INST] Thanks [/INST]",
                new Llama2Template().render(THREE_TURNS, true));
    }

    @Test
    void rendersLlama3() {
        assertEquals("<|begin_of_text|>"
                        + "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\n4.<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nThanks<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\n",
                HeaderTemplate.llama3().render(THREE_TURNS, true));
    }

    @Test
    void rendersChatMl() {
        assertEquals("<|im_start|>system\nYou are terse.<|im_end|>\n"
                        + "<|im_start|>user\nHi!<|im_end|>\n"
                        + "<|im_start|>assistant\nHello.<|im_end|>\n"
                        + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
                        + "<|im_start|>assistant\n4.<|im_end|>\n"
                        + "<|im_start|>user\nThanks<|im_end|>\n"
                        + "<|im_start|>assistant\n",
                HeaderTemplate.chatMl().render(THREE_TURNS, true));
    }

    @Test
    void rendersMistral() {
        assertEquals("<s>[INST] You are terse.\n\nHi! [/INST]Hello.</s>"
                        + "[INST] What is 2+2? [/INST]4.</s>"
                        + "[INST] Thanks [/INST]",
                new MistralTemplate().render(THREE_TURNS, true));
        assertEquals("<s>[INST]  Hi!\n [/INST]\tHello.  </s>", new MistralTemplate().render(
                List.of(ChatMessage.user(" Hi!\n"), ChatMessage.assistant("\tHello.  ")), false));
    }

    @Test
    void rendersPhi3() {
        assertEquals("<|system|>\nYou are terse.<|end|>\n"
                        + "<|user|>\nHi!<|end|>\n"
                        + "<|assistant|>\nHello.<|end|>\n"
                        + "<|user|>\nWhat is 2+2?<|end|>\n"
                        + "<|assistant|>\n4.<|end|>\n"
                        + "<|user|>\nThanks<|end|>\n"
                        + "<|assistant|>\n",
                HeaderTemplate.phi3().render(THREE_TURNS, true));
    }

    @Test
    void rendersGemma() {
        assertEquals("<bos><start_of_turn>user\nYou are terse.\n\nHi!<end_of_turn>\n"
                        + "<start_of_turn>model\nHello.<end_of_turn>\n"
                        + "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n"
                        + "<start_of_turn>model\n4.<end_of_turn>\n"
                        + "<start_of_turn>user\nThanks<end_of_turn>\n"
                        + "<start_of_turn>model\n",
                HeaderTemplate.gemma().render(THREE_TURNS, true));
        assertEquals("<bos><start_of_turn>user\nHi!<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n",
                HeaderTemplate.gemma().render(List.of(ChatMessage.user("  Hi!\n"), ChatMessage.assistant("\tHello.  ")), false));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HeaderTemplate.gemma()
                .render(List.of(ChatMessage.user("a"), ChatMessage.system("s")), true));
        assertEquals("gemma takes a system message only first, but message 1 is one", e.getMessage());
    }

    @Test
    void rendersPlainText() {
        assertEquals("You are terse.\nHi!Hello.What is 2+2?4.Thanks", new PlainTemplate().render(THREE_TURNS, true));
    }

    @Test
    void generationPromptIsOptional() {
        List<ChatMessage> question = List.of(ChatMessage.user("Hi!"));
        assertEquals("<|im_start|>user\nHi!<|im_end|>\n", HeaderTemplate.chatMl().render(question, false));
        assertEquals("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>",
                HeaderTemplate.llama3().render(question, false));
    }

    @Test
    void trimsWhereTheTemplatesTrim() {
        List<ChatMessage> padded = List.of(ChatMessage.user("  Hi!\n"), ChatMessage.assistant("\tHello.  "));
        assertEquals("<s>[INST] Hi! [/INST] Hello. </s>", new Llama2Template().render(padded, false));
        assertEquals("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>",
                HeaderTemplate.llama3().render(padded, false));
        assertEquals("<|im_start|>user\n  Hi!\n<|im_end|>\n<|im_start|>assistant\n\tHello.  <|im_end|>\n",
                HeaderTemplate.chatMl().render(padded, false));
    }

    @Test
    void llama2RequiresAlternatingTurns() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Llama2Template()
                .render(List.of(ChatMessage.system("s"), ChatMessage.user("a"), ChatMessage.user("b")), true));
        assertEquals("Llama 2 conversations alternate user/assistant after an optional system message, "
                + "but message 2 is 'user'", e.getMessage());
    }

    @Test
    void mistralRequiresAlternatingTurns() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new MistralTemplate()
                .render(List.of(ChatMessage.assistant("a")), true));
        assertEquals("Mistral conversations alternate user/assistant after an optional system message, "
                + "but message 0 is 'assistant'", e.getMessage());
    }

    @Test
    void stopTokensAndEndMarkers() {
        assertEquals(List.of("<|end|>"), HeaderTemplate.phi3().stopTokens());
        assertEquals(List.of("<end_of_turn>"), HeaderTemplate.gemma().stopTokens());
        assertEquals(List.of(), new MistralTemplate().stopTokens());
        assertEquals("</s>", new MistralTemplate().afterAssistantTurn());
        assertEquals(List.of("<|eot_id|>"), HeaderTemplate.llama3().stopTokens());
        assertEquals(List.of("<|im_end|>"), HeaderTemplate.chatMl().stopTokens());
        assertEquals(List.of(), new Llama2Template().stopTokens());
        assertEquals("</s>", new Llama2Template().afterAssistantTurn());
        assertEquals("", new PlainTemplate().afterAssistantTurn());
    }

    @Test
    void detectsLlama2() {
        String source = "{% if messages[0]['role'] == 'system' %}{% set system_message = messages[0]['content'] %}"
                + "{% endif %}{% for message in loop_messages %}{% if loop.index0 == 0 and system_message %}"
                + "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
                + "{% endif %}{% if message['role'] == 'user' %}"
                + "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% endif %}{% endfor %}";
        assertDetected("llama2", true, "Llama 2", source);
    }

    @Test
    void detectsLlama3() {
        String source = "{% for message in messages %}{% set content = '<|start_header_id|>' + message['role'] + "
                + "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' %}"
                + "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
                + "{% endfor %}{% if add_generation_prompt %}"
                + "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
        assertDetected("llama3", true, "Llama 3", source);
    }

    @Test
    void detectsChatMl() {
        String source = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                + "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
                + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
        assertDetected("chatml", true, "ChatML", source);
    }

    @Test
    void detectsMistral() {
        String source = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
                + "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + eos_token }}"
                + "{% endif %}{% endfor %}";
        assertDetected("mistral", true, "Mistral", source);
    }

    @Test
    void detectsPhi3() {
        String source = "{% for message in messages %}{% if message['role'] == 'user' %}{{'<|user|>\\n' + "
                + "message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\\n' + "
                + "message['content'] + '<|end|>\\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}"
                + "{{ '<|assistant|>\\n' }}{% endif %}";
        assertDetected("phi3", true, "Phi-3", source);
    }

    @Test
    void detectsGemma() {
        String source = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}"
                + "{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
                + "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
                + "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";
        assertDetected("gemma", true, "Gemma", source);
    }

    @Test
    void fallsBackToPlainTextWithAReason() {
        String zephyr = "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + "
                + "eos_token }}{% endfor %}";
        assertDetected("plain", false, "not one Winnow recognises", zephyr);
        assertDetected("plain", false, "no chat template", null);
        assertDetected("plain", false, "no chat template", "  ");
    }

    private static void assertDetected(String name, boolean recognised, String reasonPart, String source) {
        ChatTemplate.Detection detection = ChatTemplate.detect(source);
        assertEquals(name, detection.template().name());
        assertEquals(recognised, detection.recognised());
        assertTrue(detection.reason().contains(reasonPart), detection.reason());
        if (!recognised) {
            assertTrue(detection.template().stopTokens().isEmpty());
        }
    }
}
